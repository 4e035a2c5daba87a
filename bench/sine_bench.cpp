// The seed notebook's two computations, timed against their baselines in the same run:
//  1. its gradient-descent loop (n = 10 points, m = 500 units, 20000 full-batch SGD steps, lr 0.01,
//     float64) in C++ (cvxnn::train_gradient) and, when /usr/bin/python3 has torch, in PyTorch
//     (bench/sine_torch.py, same sizes, same precision): times and their ratio (target ≥ 20×);
//  2. the convex solve of its step 3 (the signed program over the initial network's patterns,
//     β = 1e-3) and the global relu program over every pattern: median times (target < 20 ms).
// Usage: bench_sine [REPO_ROOT] (to find bench/sine_torch.py; default: the current folder).
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "cvxnn/core/parallel.hpp"
#include "cvxnn/data/table.hpp"
#include "cvxnn/model.hpp"
#include "cvxnn/fit.hpp"
#include "cvxnn/network/gradient_training.hpp"
#include "cvxnn/patterns/enumerate.hpp"

using namespace cvxnn;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

template <typename F>
double median_seconds(int repeats, F&& run) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Runs the PyTorch loop; returns its seconds, or a negative number when torch is not available.
double torch_seconds(const std::string& root, int n, int m, int steps, double lr, std::string& info) {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    info = "torch is not importable by /usr/bin/python3 (apt-get install python3-torch)";
    return -1.0;
  }
  const std::string command = fmt::format("/usr/bin/python3 {}/bench/sine_torch.py {} {} {} {} 1", root, n, m, steps, lr);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1.0;
  char buffer[512];
  std::string out;
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  if (pclose(pipe) != 0) {
    info = "the PyTorch run failed: " + out;
    return -1.0;
  }
  info = out;
  const auto at = out.find("\"seconds\": ");
  return at == std::string::npos ? -1.0 : std::stod(out.substr(at + 11));
}

// Output of a command, and whether it exited 0.
bool run_command(const std::string& command, std::string& out) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return false;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
  return pclose(pipe) == 0;
}

double json_number(const std::string& text, const std::string& key) {
  const auto at = text.find("\"" + key + "\": ");
  return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size() + 4));
}

}  // namespace

static int run_bench(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  set_num_threads(1);
  const int n = 10, m = 500, steps = 20000;
  const double lr = 0.01, beta = 1e-3;
  const Vector x = Vector::LinSpaced(n, -1.0, 1.0);
  Matrix X(n, 2), Y(n, 1);
  X.col(0) = x;
  X.col(1).setOnes();
  Y.col(0) = (10.0 * x.array()).sin().matrix();
  const RandomNetworkInit init = random_network_init(2, m, 1, 0);
  TwoLayerNetwork initial;
  initial.W1 = init.W1;
  initial.W2 = init.W2;

  fmt::print("1. the notebook's GD loop: n = {}, m = {}, {} SGD steps, lr {}, float64, 1 thread\n", n, m, steps, lr);
  GradientTrainingOptions options;
  options.learning_rate = lr;
  options.steps = steps;
  options.log_every = 0;
  double final_loss = 0.0;
  const double cpp = median_seconds(3, [&] { final_loss = train_gradient(X, Y, initial, options).log.back().loss; });
  fmt::print("   C++ (cvxnn::train_gradient): {:.4f} s (median of 3), final loss {:.6g}\n", cpp, final_loss);
  std::string info;
  const double torch = torch_seconds(root, n, m, steps, lr, info);
  if (torch > 0.0) {
    fmt::print("   PyTorch: {:.4f} s  {}", torch, info);
    fmt::print("   ratio PyTorch / C++: {:.1f}x (target >= 20x)\n", torch / cpp);
  } else {
    fmt::print("   PyTorch: not measured: {}\n", info);
  }

  fmt::print("2. the convex solves (interior point, relative gap 1e-6, median of 21)\n");
  SolverOptions solver;
  solver.tol = 1e-6;
  double gap = 0.0;
  const double signed_seconds = median_seconds(21, [&] {
    const ConvexProblem problem(X, Y, patterns_from_network(X, init), Formulation::signed_relu, beta);
    gap = solve(problem, SolverKind::automatic, solver).certificate.relative_gap;
  });
  fmt::print("   signed program over the initial network's patterns (patterns + solve): {:.2f} ms, gap {:.1e} "
             "(target < 20 ms)\n",
             1e3 * signed_seconds, gap);

  // Baseline: the same program by a general-purpose dense SOCP solver (cvxopt, as the notebook's
  // CVXPY would hand it to one), via tools/reference_cvxopt.py on a model file of our solution.
  {
    FitOptions fit_options;
    fit_options.formulation = Formulation::signed_relu;
    fit_options.beta = beta;
    fit_options.pattern_count = m;  // the patterns of random_network_init(2, m, 1, 0), as `init`
    fit_options.solver = solver;
    const FitResult fit = fit_convex(X, Y, fit_options);
    const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cvxnn-bench-sine";
    std::filesystem::create_directories(dir);
    Matrix raw(n, 2);
    raw << x, Y;
    write_csv((dir / "data.csv").string(), raw, {"x", "y"});
    const Preprocessing identity = Preprocessing::fit(Matrix(x), Y, false, false, true, {"x"}, {"y"});
    save_model(make_model(identity, {"x"}, {"y"}, fit.network, Formulation::signed_relu, beta, fit.patterns,
                          fit.certificate, fit.solve.dual_direction, TrainingSummary()),
               (dir / "model.json").string());
    std::string out;
    const bool ok = run_command(fmt::format("/usr/bin/python3 {}/tools/reference_cvxopt.py {} {} 2>&1", root,
                                            (dir / "model.json").string(), (dir / "data.csv").string()),
                                out);
    const double cvxopt_seconds = json_number(out, "solve_seconds");
    if (ok && cvxopt_seconds > 0.0) {
      fmt::print("   the same program by cvxopt's SOCP solver (solve only): {:.2f} ms, optimum {:.10g} vs ours {:.10g}; "
                 "ratio {:.1f}x\n",
                 1e3 * cvxopt_seconds, json_number(out, "reference_optimum"), fit.certificate.primal,
                 cvxopt_seconds / signed_seconds);
    } else {
      fmt::print("   cvxopt baseline not measured: {}\n", out.substr(0, 300));
    }
    std::filesystem::remove_all(dir);
  }
  const double global_seconds = median_seconds(21, [&] {
    const ConvexProblem problem(X, Y, enumerate_patterns(X), Formulation::relu, beta);
    gap = solve(problem, SolverKind::automatic, solver).certificate.relative_gap;
  });
  fmt::print("   relu program over every pattern (enumeration + solve): {:.2f} ms, gap {:.1e}\n", 1e3 * global_seconds,
             gap);
  return 0;
}

// A bad argument or a missing data file ends the run with its message, not an abort.
int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_sine: {}\n", e.what());
    return 2;
  }
}
