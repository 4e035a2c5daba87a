// Running gnuplot for the figures (plot_1d, plot_2d): quoting, and piping a script to gnuplot in
// the output folder with its messages in a log file that is removed when the figure is drawn.
#pragma once

#include <string>
#include <vector>

namespace cvxnn {

/// A gnuplot double-quoted string.
std::string gnuplot_quoted(const std::string& text);
/// A POSIX shell single-quoted word.
std::string shell_quoted(const std::string& text);
/// Whether a `gnuplot` executable is on the PATH.
bool gnuplot_available();

struct GnuplotRun {
  bool rendered = false;  ///< gnuplot exited with 0 and wrote every expected file (non-empty)
  std::string hint;       ///< otherwise: what to run to draw the figure by hand, and why
};

/// Pipes `script` (already written to `<folder>/<stem>.gp`) to gnuplot running in `folder`;
/// `outputs` are the file names, relative to `folder`, it must write.
GnuplotRun run_gnuplot(const std::string& script, const std::string& folder, const std::string& stem,
                       const std::vector<std::string>& outputs);

}  // namespace cvxnn
