// Figures of 1-D fits with gnuplot: data points and any number of curves on a grid.
//
// The data and a ready gnuplot script are always written next to each other, so the figure can be
// redrawn (or restyled) by hand; when `gnuplot` is on the PATH the script is also piped to it and
// leaves PNG and SVG files. Without gnuplot the caller gets a one-line hint instead.
#pragma once

#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/report/gnuplot.hpp"

namespace cvxnn {

struct Curve {
  std::string title;
  Vector values;  ///< on Figure1D::grid
};

struct Figure1D {
  std::string title, x_label = "x", y_label = "y";
  Vector data_x, data_y;  ///< the training points
  Vector grid;            ///< where the curves are evaluated
  std::vector<Curve> curves;
};

struct PlotFiles {
  std::string points_csv, curves_csv, script;  ///< always written
  std::string png, svg;                        ///< written when gnuplot ran
  bool rendered = false;
  std::string hint;  ///< what to run when gnuplot was not available or failed
};

/// Writes `<folder>/<stem>-points.csv`, `<stem>-curves.csv`, `<stem>.gp` and, with gnuplot,
/// `<stem>.png` and `<stem>.svg`. Throws FileError when the folder cannot be written.
PlotFiles write_plot(const Figure1D& figure, const std::string& folder, const std::string& stem);

}  // namespace cvxnn
