// Certified solves to a relative gap of 1e-6: the working-set loop (solvers/working_set.hpp, the
// interior point or accelerated gradient on the patterns in use) against the project's plain
// full-pattern accelerated proximal gradient, on the same problems in the same run, plus the
// interior point where it is affordable. Prints one table row per (problem, solver) with time,
// iterations, gap and units, the ratio baseline time / working-set time, and the peak memory.
//
// Usage: bench_solvers [REPO_ROOT] [--large] [--baseline-limit SECONDS] [--only NAME] [--no-baseline] [--verbose]
//                      [--ws-limit SECONDS]
//        bench_solvers --scale
//   REPO_ROOT finds examples/data/diabetes.csv; --large adds n = 50000, d = 100, P = 1000;
//   --scale runs only the scale target: gated, n = 10⁶, d = 50, P = 512, relative gap 1e-4, with
//   `auto` (the working set), reporting time and peak memory (target: under 2 minutes and 3 GB);
//   --only runs the problems whose name contains NAME; --no-baseline skips the baseline (tuning).
#include <fmt/core.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cvxnn/data/preprocess.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/patterns/enumerate.hpp"
#include "cvxnn/solvers/interior_point.hpp"

using namespace cvxnn;

namespace {

struct Problem {
  std::string name;
  Matrix X, Y;  // preprocessed, bias column included
  double beta = 1e-3;
  bool all_patterns = false;
  Index patterns = 256;
  bool seed_summed = false;  // one of --seeds N's draws, counted in its per-β summary
};

Problem sine(Index n) {
  Problem p;
  p.name = fmt::format("sine n={} all patterns", n);
  p.X.resize(n, 2);
  p.Y.resize(n, 1);
  for (Index k = 0; k < n; ++k) {
    const double x = -1.0 + 2.0 * double(k) / double(n - 1);
    p.X(k, 0) = x;
    p.X(k, 1) = 1.0;
    p.Y(k, 0) = std::sin(10.0 * x);
  }
  p.all_patterns = true;
  return p;
}

Problem diabetes(const std::string& root) {
  const Dataset data = split_targets(read_table(root + "/examples/data/diabetes.csv"), {"target"});
  const Preprocessing pre = Preprocessing::fit(data.X, data.Y, true, true, true);
  Problem p;
  p.name = "diabetes P=256";
  p.X = pre.transform_features(data.X);
  p.Y = pre.transform_targets(data.Y);
  return p;
}

// Gaussian features, targets from a ReLU teacher of `teacher` units plus 10% noise, standardised.
Problem synthetic(Index n, Index d, Index patterns, Index teacher, double beta, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Matrix raw(n, d), W1(teacher, d);
  Vector w2(teacher);
  for (Index k = 0; k < n; ++k)
    for (Index j = 0; j < d; ++j) raw(k, j) = normal(rng);
  for (Index u = 0; u < teacher; ++u) {
    for (Index j = 0; j < d; ++j) W1(u, j) = normal(rng);
    w2(u) = normal(rng);
  }
  Matrix y = ((raw * W1.transpose()).cwiseMax(0.0) * w2).eval();
  for (Index k = 0; k < n; ++k) y(k, 0) += 0.1 * normal(rng);
  const Preprocessing pre = Preprocessing::fit(raw, y, true, true, true);
  Problem p;
  p.name = fmt::format("synthetic n={} d={} P={} β={}", n, d, patterns, beta);
  p.X = pre.transform_features(raw);
  p.Y = pre.transform_targets(y);
  p.beta = beta;
  p.patterns = patterns;
  return p;
}

double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;
}

// CPU seconds of the whole process (all threads): under a shared machine's load, wall time
// measures the neighbours; with one thread this is the solver's own work.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec) + 1e-6 * double(usage.ru_utime.tv_usec) + double(usage.ru_stime.tv_sec) +
         1e-6 * double(usage.ru_stime.tv_usec);
}

struct Row {
  double seconds = 0.0;
  double cpu = 0.0;
  SolveResult result;
};

bool verbose = false;  // --verbose: every certificate check on stderr

Row run(const ConvexProblem& problem, SolverKind kind, double time_limit) {
  SolverOptions options;
  if (verbose) {
    options.callback = [](const IterationRecord& r) {
      fmt::print(stderr, "  {:8} it {:8.2f} s  relative gap {:.2e}\n", r.iteration, r.seconds, r.relative_gap);
      return true;
    };
  }
  options.tol = 1e-6;
  options.max_iter = 10'000'000;
  options.time_limit = time_limit;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  Row row;
  row.result = solve(problem, kind, options);
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  row.cpu = cpu_seconds() - cpu_start;
  return row;
}

Index units(const SolveResult& r) {
  Index count = 0;
  for (Index j = 0; j < r.V.cols(); ++j) count += r.V.col(j).squaredNorm() > 0.0;
  return count;
}

void print_row(const std::string& problem, const std::string& solver, const Row& row) {
  fmt::print("| {} | {} | {:.2f} s | {:.2f} s | {} | {:.1e} | {} | {} |\n", problem, solver, row.seconds, row.cpu,
             row.result.iterations, row.result.certificate.relative_gap, units(row.result),
             to_string(row.result.status));
}

}  // namespace

static int run_bench(int argc, char** argv) {
  std::string root = ".";
  bool large = false, scale = false;
  double baseline_limit = 600.0;
  double ws_limit = 3600.0;  // the working set's own time limit
  std::string only;      // run only the problems whose name contains this
  bool baseline = true;  // --no-baseline: the working set alone (while tuning it)
  int seeds = 1;         // --seeds N: the n = 5000 synthetic problems for data seeds 1..N
  for (int a = 1; a < argc; ++a) {
    const std::string arg = argv[a];
    if (arg == "--large") {
      large = true;
    } else if (arg == "--scale") {
      scale = true;
    } else if (arg == "--only" && a + 1 < argc) {
      only = argv[++a];
    } else if (arg == "--ws-limit" && a + 1 < argc) {
      ws_limit = std::stod(argv[++a]);
    } else if (arg == "--verbose") {
      verbose = true;
    } else if (arg == "--no-baseline") {
      baseline = false;
    } else if (arg == "--baseline-limit" && a + 1 < argc) {
      baseline_limit = std::stod(argv[++a]);
    } else if (arg == "--seeds" && a + 1 < argc) {
      seeds = std::stoi(argv[++a]);
      if (seeds < 1) throw std::invalid_argument("--seeds expects a count of at least 1");
    } else if (!arg.empty() && arg[0] == '-') {
      throw std::invalid_argument("unknown option " + arg +
                                  " (expected [ROOT] --large --scale --only NAME --ws-limit S --baseline-limit S "
                                  "--no-baseline --seeds N --verbose)");
    } else {
      root = arg;
    }
  }
  if (scale) {
    const auto start = std::chrono::steady_clock::now();
    const Problem spec = synthetic(1'000'000, 50, 512, 10, 5e-2, 3);
    FitOptions choice;
    choice.pattern_count = spec.patterns;
    const ConvexProblem problem(spec.X, spec.Y, choose_patterns(spec.X, 1, choice), Formulation::gated, spec.beta);
    const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    SolverOptions options;
    options.tol = 1e-4;
    options.max_iter = 10'000'000;
    options.callback = [](const IterationRecord& r) {
      fmt::print(stderr, "  {:8} it {:8.1f} s  relative gap {:.2e}\n", r.iteration, r.seconds, r.relative_gap);
      return true;
    };
    const auto solve_start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    const SolveResult result = solve(problem, SolverKind::automatic, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - solve_start).count();
    const double cpu = cpu_seconds() - cpu_start;
    fmt::print("scale: n = 10^6, d = 50 (+bias), {} patterns, gated, β = {}: data + patterns {:.1f} s, solve {:.1f} s "
               "({} inner iterations, {}; cpu time {:.1f} s), relative gap {:.2e}, {} units; total {:.1f} s; peak memory "
               "{:.0f} MiB\n",
               problem.patterns().num_patterns(), spec.beta, setup, seconds, result.iterations,
               to_string(result.status), cpu, result.certificate.relative_gap, units(result), setup + seconds,
               peak_memory_mib());
    return 0;
  }
  std::vector<std::pair<Problem, std::vector<Formulation>>> problems;
  problems.push_back({sine(400), {Formulation::gated, Formulation::relu}});
  problems.push_back({diabetes(root), {Formulation::gated, Formulation::relu}});
  // One draw of the synthetic data is one problem among many: with --seeds N the two n = 5000 rows
  // are solved for data seeds 1..N, and the summary gives the ratio of the summed times.
  for (const double beta : {1e-2, 5e-2}) {
    for (int seed = 1; seed <= seeds; ++seed) {
      Problem spec = synthetic(5000, 50, 512, 10, beta, static_cast<std::uint64_t>(seed));
      if (seeds > 1) {
        spec.name += fmt::format(" seed={}", seed);
        spec.seed_summed = true;
      }
      problems.push_back({std::move(spec), {Formulation::gated}});
    }
  }
  if (large) problems.push_back({synthetic(50000, 100, 1000, 10, 5e-2, 2), {Formulation::gated}});

  fmt::print("Relative gap 1e-6; baseline = plain full-pattern accelerated proximal gradient (projected for relu),"
             " stopped after {} s.\n\n", baseline_limit);
  fmt::print("| problem | solver | time | cpu time | iterations | relative gap | units | status |\n"
             "|---|---|---|---|---|---|---|---|\n");
  std::vector<std::string> ratios;
  struct Totals {
    double ws = 0.0, baseline = 0.0;
    long ws_iterations = 0, baseline_iterations = 0;
    int solves = 0;
    bool baseline_done = true;
  };
  std::map<double, Totals> seed_totals;  // by β, the n = 5000 synthetic rows over the seeds
  for (const auto& [spec, formulations] : problems) {
    if (!only.empty() && spec.name.find(only) == std::string::npos) continue;
    FitOptions choice;
    choice.all_patterns = spec.all_patterns;
    choice.pattern_count = spec.patterns;
    const PatternSet patterns = choose_patterns(spec.X, spec.Y.cols(), choice);
    for (const Formulation f : formulations) {
      const ConvexProblem problem(spec.X, spec.Y, patterns, f, spec.beta);
      const std::string name = fmt::format("{} ({}, {} patterns)", spec.name, to_string(f), patterns.num_patterns());
      const Row ws = run(problem, SolverKind::working_set, ws_limit);
      print_row(name, "ws", ws);
      if (!baseline) continue;
      const Row apg = run(problem, SolverKind::accelerated_gradient, baseline_limit);
      print_row(name, "apg (baseline)", apg);
      if (interior_point_affordable(problem)) print_row(name, "ipm", run(problem, SolverKind::interior_point, baseline_limit));
      const bool baseline_done = apg.result.status == SolveStatus::converged;
      ratios.push_back(fmt::format("{}: baseline / ws = {}{:.1f}× (cpu time {}{:.1f}×)", name,
                                   baseline_done ? "" : "> ", apg.seconds / ws.seconds, baseline_done ? "" : "> ",
                                   apg.cpu / ws.cpu));
      if (spec.seed_summed) {
        Totals& total = seed_totals[spec.beta];
        total.ws += ws.seconds;
        total.baseline += apg.seconds;
        total.ws_iterations += ws.result.iterations;
        total.baseline_iterations += apg.result.iterations;
        total.baseline_done = total.baseline_done && baseline_done;
        ++total.solves;
      }
    }
  }
  fmt::print("\n");
  for (const std::string& line : ratios) fmt::print("{}\n", line);
  for (const auto& [beta, total] : seed_totals) {
    fmt::print("synthetic n=5000 β={} over {} seeds: baseline {:.2f} s ({} iterations) / ws {:.2f} s ({} iterations) = "
               "{}{:.1f}×\n",
               beta, total.solves, total.baseline, total.baseline_iterations, total.ws, total.ws_iterations,
               total.baseline_done ? "" : "> ", total.baseline / total.ws);
  }
  fmt::print("peak memory (max RSS): {:.0f} MiB\n", peak_memory_mib());
  return 0;
}

// A bad argument or a missing data file ends the run with its message, not an abort.
int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_solvers: {}\n", e.what());
    return 2;
  }
}
