#include "cvxnn/report/plot_1d.hpp"

#include <fmt/core.h>

#include <filesystem>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/report/gnuplot.hpp"

namespace cvxnn {

namespace {

std::string script_of(const Figure1D& figure, const std::string& stem) {
  std::string s;
  s += fmt::format("# {} — written by cvxnn. Redraw in this folder with: gnuplot {}.gp\n", figure.title, stem);
  s += "set datafile separator \",\"\n";
  s += "set key bottom left box opaque\nset grid\n";
  s += fmt::format("set title {} noenhanced\nset xlabel {} noenhanced\nset ylabel {} noenhanced\n", gnuplot_quoted(figure.title),
                   gnuplot_quoted(figure.x_label), gnuplot_quoted(figure.y_label));
  s += "set terminal pngcairo size 1000,650 font \"sans,12\"\n";
  s += fmt::format("set output {}\n", gnuplot_quoted(stem + ".png"));
  std::string plot = "plot ";
  for (std::size_t c = 0; c < figure.curves.size(); ++c) {
    plot += fmt::format("{} skip 1 using 1:{} with lines linewidth 2.5 dashtype {} title {} noenhanced, \\\n     ",
                        gnuplot_quoted(stem + "-curves.csv"), c + 2, c + 1, gnuplot_quoted(figure.curves[c].title));
  }
  plot += fmt::format("{} skip 1 using 1:2 with points pointtype 7 pointsize 1.4 linecolor rgb \"black\" title \"data\"\n",
                      gnuplot_quoted(stem + "-points.csv"));
  s += plot;
  s += "set terminal svg size 1000,650 font \"sans,12\" background rgb \"white\"\n";
  s += fmt::format("set output {}\nreplot\nunset output\n", gnuplot_quoted(stem + ".svg"));
  return s;
}

}  // namespace

PlotFiles write_plot(const Figure1D& figure, const std::string& folder, const std::string& stem) {
  if (figure.data_x.size() != figure.data_y.size()) throw InvalidInput("plot: data x and y differ in length");
  for (const Curve& curve : figure.curves) {
    if (curve.values.size() != figure.grid.size()) throw InvalidInput("plot: curve '" + curve.title + "' is not on the grid");
  }
  const std::filesystem::path dir(folder);
  PlotFiles files;
  files.points_csv = (dir / (stem + "-points.csv")).string();
  files.curves_csv = (dir / (stem + "-curves.csv")).string();
  files.script = (dir / (stem + ".gp")).string();

  Matrix points(figure.data_x.size(), 2);
  points << figure.data_x, figure.data_y;
  write_csv(files.points_csv, points, {figure.x_label, figure.y_label});
  Matrix curves(figure.grid.size(), static_cast<Index>(figure.curves.size()) + 1);
  curves.col(0) = figure.grid;
  std::vector<std::string> names{figure.x_label};
  for (std::size_t c = 0; c < figure.curves.size(); ++c) {
    curves.col(static_cast<Index>(c) + 1) = figure.curves[c].values;
    names.push_back(figure.curves[c].title);
  }
  write_csv(files.curves_csv, curves, names);
  const std::string script = script_of(figure, stem);
  write_text_file_atomically(files.script, script);

  const GnuplotRun run = run_gnuplot(script, folder, stem, {stem + ".png", stem + ".svg"});
  if (run.rendered) {
    files.png = (dir / (stem + ".png")).string();
    files.svg = (dir / (stem + ".svg")).string();
    files.rendered = true;
  }
  files.hint = run.hint;
  return files;
}

}  // namespace cvxnn
