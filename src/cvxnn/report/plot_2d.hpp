// Figures of 2-D classifiers with gnuplot: one panel per model, each showing the class the model
// predicts at every point of a regular grid (the decision regions) with the labelled data on top.
//
// As with plot_1d.hpp, the data and a ready gnuplot script are always written side by side, so
// the figure can be redrawn by hand; with `gnuplot` on the PATH the script is also run and leaves
// a PNG. Without gnuplot the caller gets a one-line hint instead.
#pragma once

#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/report/plot_1d.hpp"

namespace cvxnn {

struct RegionPanel {
  std::string title;
  /// Predicted class index (0 or 1) at every grid point, x2-major: entry i2 · grid_x1.size() + i1
  /// is the point (grid_x1[i1], grid_x2[i2]).
  Vector classes;
};

struct Figure2D {
  std::string title, x1_label = "x1", x2_label = "x2";
  Vector data_x1, data_x2, data_class;  ///< the training points and their class index (0 or 1)
  Vector grid_x1, grid_x2;              ///< increasing, evenly spaced
  std::vector<RegionPanel> panels;
  int columns = 3;                      ///< panels per row of the figure
};

/// Writes `<folder>/<stem>-points.csv` (x1, x2, class), `<stem>-grid.csv` (x1, x2, one class column
/// per panel; PlotFiles::curves_csv names it), `<stem>.gp` and, with gnuplot, `<stem>.png` (svg is
/// left empty: a vector image of tens of thousands of grid cells is too heavy to be useful).
/// Throws InvalidInput for inconsistent sizes and FileError when the folder cannot be written.
PlotFiles write_region_plot(const Figure2D& figure, const std::string& folder, const std::string& stem);

}  // namespace cvxnn
