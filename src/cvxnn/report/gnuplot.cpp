#include "cvxnn/report/gnuplot.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace cvxnn {

std::string gnuplot_quoted(const std::string& text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char ch : text) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

bool gnuplot_available() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

GnuplotRun run_gnuplot(const std::string& script, const std::string& folder, const std::string& stem,
                       const std::vector<std::string>& outputs) {
  GnuplotRun run;
  const std::string redraw = "cd " + shell_quoted(folder) + " && gnuplot " + shell_quoted(stem + ".gp");
  if (!gnuplot_available()) {
    run.hint = "gnuplot is not installed: apt-get install gnuplot-nox, then " + redraw;
    return run;
  }
  // Pipe the script to gnuplot running in the output folder; its messages go to a log file.
  const std::filesystem::path dir(folder);
  const std::string log = stem + ".gnuplot.log";
  const std::string command = "cd " + shell_quoted(folder) + " && gnuplot 2>" + shell_quoted(log);
  FILE* pipe = popen(command.c_str(), "w");
  if (!pipe) {
    run.hint = "could not start gnuplot; run: " + redraw;
    return run;
  }
  std::fputs(script.c_str(), pipe);
  bool written = pclose(pipe) == 0;
  for (const std::string& output : outputs) {
    const std::filesystem::path path = dir / output;
    written = written && std::filesystem::exists(path) && std::filesystem::file_size(path) > 0;
  }
  if (written) {
    run.rendered = true;
    std::error_code ignored;
    std::filesystem::remove(dir / log, ignored);
  } else {
    run.hint = "gnuplot failed (see " + (dir / log).string() + "); run: " + redraw;
  }
  return run;
}

}  // namespace cvxnn
