// Decision-region figures (see plot_2d.hpp). The grid is drawn with gnuplot's `with image`, which
// needs the grid points in scan order (x1 fastest) on evenly spaced coordinates: written that way
// below.
#include "cvxnn/report/plot_2d.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/report/gnuplot.hpp"

namespace cvxnn {

namespace {

std::string script_of(const Figure2D& figure, const std::string& stem) {
  const int panels = static_cast<int>(figure.panels.size());
  const int columns = std::max(1, std::min(figure.columns, panels));
  const int rows = (panels + columns - 1) / columns;
  std::string s;
  s += fmt::format("# {} — written by cvxnn. Redraw in this folder with: gnuplot {}.gp\n", figure.title, stem);
  s += "set datafile separator \",\"\n";
  s += fmt::format("set terminal pngcairo size {},{} font \"sans,11\"\n", 430 * columns, 430 * rows + 40);
  s += fmt::format("set output {}\n", gnuplot_quoted(stem + ".png"));
  // Light region colours for classes 0 and 1; the data points in the saturated versions.
  s += "set palette defined (0 \"#c6dbef\", 1 \"#fcbba1\")\nset cbrange [0:1]\nunset colorbox\nunset key\n";
  s += fmt::format("set xrange [{:.17g}:{:.17g}]\nset yrange [{:.17g}:{:.17g}]\n", figure.grid_x1.minCoeff(),
                   figure.grid_x1.maxCoeff(), figure.grid_x2.minCoeff(), figure.grid_x2.maxCoeff());
  s += "set size ratio -1\n";
  s += fmt::format("set xlabel {} noenhanced\nset ylabel {} noenhanced\n", gnuplot_quoted(figure.x1_label),
                   gnuplot_quoted(figure.x2_label));
  s += fmt::format("set multiplot layout {},{} title {} noenhanced\n", rows, columns, gnuplot_quoted(figure.title));
  for (int p = 0; p < panels; ++p) {
    s += fmt::format("set title {} noenhanced\n", gnuplot_quoted(figure.panels[static_cast<std::size_t>(p)].title));
    s += fmt::format("plot {} skip 1 using 1:2:{} with image, \\\n", gnuplot_quoted(stem + "-grid.csv"), p + 3);
    s += fmt::format(
        "     {} skip 1 using 1:2:($3 > 0.5 ? 0xb2182b : 0x2166ac) with points pointtype 7 pointsize 0.6 "
        "linecolor rgb variable\n",
        gnuplot_quoted(stem + "-points.csv"));
  }
  s += "unset multiplot\nunset output\n";
  return s;
}

bool evenly_spaced(const Vector& v) {
  if (v.size() < 2) return false;
  const double step = (v(v.size() - 1) - v(0)) / double(v.size() - 1);
  if (!(step > 0.0)) return false;
  for (Index i = 1; i < v.size(); ++i) {
    if (std::abs(v(i) - v(i - 1) - step) > 1e-9 * step) return false;
  }
  return true;
}

}  // namespace

PlotFiles write_region_plot(const Figure2D& figure, const std::string& folder, const std::string& stem) {
  if (figure.data_x1.size() != figure.data_x2.size() || figure.data_x1.size() != figure.data_class.size()) {
    throw InvalidInput("region plot: the data's x1, x2 and class columns differ in length");
  }
  if (!evenly_spaced(figure.grid_x1) || !evenly_spaced(figure.grid_x2)) {
    throw InvalidInput("region plot: the grid coordinates must be increasing and evenly spaced");
  }
  if (figure.panels.empty()) throw InvalidInput("region plot: no panels");
  const Index g1 = figure.grid_x1.size(), g2 = figure.grid_x2.size();
  for (const RegionPanel& panel : figure.panels) {
    if (panel.classes.size() != g1 * g2) throw InvalidInput("region plot: panel '" + panel.title + "' is not on the grid");
  }
  const std::filesystem::path dir(folder);
  PlotFiles files;
  files.points_csv = (dir / (stem + "-points.csv")).string();
  files.curves_csv = (dir / (stem + "-grid.csv")).string();
  files.script = (dir / (stem + ".gp")).string();

  Matrix points(figure.data_x1.size(), 3);
  points << figure.data_x1, figure.data_x2, figure.data_class;
  write_csv(files.points_csv, points, {figure.x1_label, figure.x2_label, "class"});
  Matrix grid(g1 * g2, static_cast<Index>(figure.panels.size()) + 2);
  for (Index i2 = 0; i2 < g2; ++i2) {
    for (Index i1 = 0; i1 < g1; ++i1) {
      grid(i2 * g1 + i1, 0) = figure.grid_x1(i1);
      grid(i2 * g1 + i1, 1) = figure.grid_x2(i2);
    }
  }
  std::vector<std::string> names{figure.x1_label, figure.x2_label};
  for (std::size_t p = 0; p < figure.panels.size(); ++p) {
    grid.col(static_cast<Index>(p) + 2) = figure.panels[p].classes;
    names.push_back(figure.panels[p].title);
  }
  write_csv(files.curves_csv, grid, names);
  const std::string script = script_of(figure, stem);
  write_text_file_atomically(files.script, script);

  const GnuplotRun run = run_gnuplot(script, folder, stem, {stem + ".png"});
  if (run.rendered) {
    files.png = (dir / (stem + ".png")).string();
    files.rendered = true;
  }
  files.hint = run.hint;
  return files;
}

}  // namespace cvxnn
