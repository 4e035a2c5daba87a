// The pattern operator's two passes (problem/pattern_operator.hpp) against plain Eigen GEMMs of
// the same shape and flop count, measured in the same run:
//   forward  Ŷ = Σ_j s_j D_{p_j} X v_j      vs  Z = X · V        (n×d times d×J, 2ndJ flops)
//   adjoint  G(:, j) = s_j Xᵀ D_{p_j} r      vs  G = Xᵀ · (R∘M)   (d×n times n×J, 2ndJ flops)
// for n = 20000 and d = 100, 50, 10 (X with a ones column), P = 1000 Gaussian-gate patterns,
// gated groups (J = P, c = 1) and relu groups (J = 2P, with the cone values C = (2D − I) X V in
// the forward pass and cone weights in the adjoint), with one thread and with all threads.
// Prints GFLOP/s, the ratio operator / GEMM (median times), the largest relative difference of
// each output from a straightforward reference (the baseline GEMM's output, masked and summed
// explicitly), whether one thread and all threads give bit-identical outputs, and the peak
// resident memory. Exits with status 1 when an output is wrong. Timings are never asserted.
//
// The same for PatternOperatorF32 against Eigen SGEMMs ("fwd f32", "adj f32"; its differences are
// against the float64 reference, so they show the rounding of X and V to float32).
//
// Usage: bench_operator [--repeats N] [--n N] [--patterns P] [--d LIST] [--f32 0|1] (LIST like 100,50,10)
#include <fmt/core.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cvxnn/core/parallel.hpp"
#include "cvxnn/patterns/pattern_set.hpp"
#include "cvxnn/problem/pattern_operator.hpp"

using namespace cvxnn;

namespace {

double seconds(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Median times of several computations, run in turn `repeats` times (interleaved, so that a
// change of the machine's load affects all of them alike).
std::vector<double> median_seconds(int repeats, const std::vector<std::function<void()>>& runs) {
  std::vector<std::vector<double>> times(runs.size());
  for (int r = 0; r < repeats; ++r)
    for (std::size_t i = 0; i < runs.size(); ++i) times[i].push_back(seconds(runs[i]));
  std::vector<double> medians;
  for (auto& t : times) {
    std::sort(t.begin(), t.end());
    medians.push_back(t[t.size() / 2]);
  }
  return medians;
}

Matrix gaussian(Index rows, Index cols, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  Matrix A(rows, cols);
  for (Index i = 0; i < A.size(); ++i) A.data()[i] = normal(rng);
  return A;
}

// max |a − b| / max |b|: 0 for identical outputs, about 1e-15 for a reordered sum.
template <typename A, typename B>
double relative_difference(const A& a, const B& b) {
  const double scale = b.size() ? b.cwiseAbs().maxCoeff() : 0.0;
  const double diff = a.size() ? (a - b).cwiseAbs().maxCoeff() : 0.0;
  return scale > 0 ? diff / scale : diff;
}

template <typename M>
bool bitwise_equal(const M& a, const M& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(typename M::Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

// One problem: times both passes and both baselines at each thread count, checks the outputs.
bool run_case(Index n, Index d, Index P, bool relu, int repeats, const std::vector<int>& thread_counts, bool f32) {
  const Matrix X = [&] {
    Matrix A = gaussian(n, d, 1);
    A.col(d - 1).setOnes();  // the bias column
    return A;
  }();
  const Mask mask = compute_mask(X, gaussian(P, d, 2));
  std::vector<Group> groups;
  for (Index i = 0; i < P; ++i) {
    groups.push_back({i, 0, 1.0});
    if (relu) groups.push_back({i, 0, -1.0});
  }
  const Index J = static_cast<Index>(groups.size());
  const PatternOperator op(X, mask, groups, 1);

  const ColMatrix V = gaussian(d, J, 3);
  const Matrix R = gaussian(n, 1, 4);
  const Matrix Q = relu ? gaussian(n, J, 5) : Matrix();
  const Matrix* cone_weights = relu ? &Q : nullptr;
  // float32: the same operator and data rounded, against SGEMMs.
  const PatternOperatorF32 op32(op);
  const Eigen::MatrixXf X32 = X.cast<float>(), V32 = V.cast<float>();
  const MatrixF Q32 = Q.cast<float>();
  const MatrixF* cone_weights32 = relu ? &Q32 : nullptr;

  // The adjoint baseline's right-hand side: the masked residual (plus masked cone weights), dense.
  Matrix S(n, J);
  for (Index k = 0; k < n; ++k)
    for (Index j = 0; j < J; ++j) {
      const double m = mask(k, groups[j].pattern);
      S(k, j) = groups[j].sign * m * R(k, 0) + (relu ? (2.0 * m - 1.0) * Q(k, j) : 0.0);
    }
  const MatrixF S32 = f32 ? MatrixF(S.cast<float>()) : MatrixF();

  const double flops = 2.0 * double(n) * double(d) * double(J);
  fmt::print("\n{} groups, n = {}, d = {}, P = {}, J = {}{}: {:.2f} GFLOP per pass\n", relu ? "relu" : "gated", n,
             d, P, J, relu ? " (forward with the cone values, adjoint with cone weights)" : "", flops * 1e-9);
  fmt::print("  {:>7}  {:>9}  {:>11}  {:>11}  {:>6}  {:>10}\n", "threads", "pass", "op GFLOP/s", "GEMM GFLOP/s",
             "ratio", "max rel diff");

  bool ok = true;
  Matrix Z, yhat_ref, cone_ref;
  ColMatrix G_ref;
  Matrix yhat_first, cone_first, yhat32_first;
  MatrixF cone32_first;
  ColMatrix G_first, G32_first;
  bool identical = true;
  for (std::size_t ti = 0; ti < thread_counts.size(); ++ti) {
    const int threads = thread_counts[ti];
    set_num_threads(threads);
    Eigen::setNbThreads(num_threads());

    Matrix yhat, cone;
    ColMatrix G;
    // Warm up (page faults of the outputs), then median times.
    op.forward(V, &yhat, relu ? &cone : nullptr);
    op.adjoint(R, G, cone_weights);
    Z.resize(n, J);
    ColMatrix G_base(d, J);
    const std::vector<double> t = median_seconds(
        repeats, {[&] { Z.noalias() = X * V; }, [&] { op.forward(V, &yhat, relu ? &cone : nullptr); },
                  [&] { G_base.noalias() = X.transpose() * S; }, [&] { op.adjoint(R, G, cone_weights); }});
    const double t_gemm_fwd = t[0], t_fwd = t[1], t_gemm_adj = t[2], t_adj = t[3];
    Matrix yhat32;
    MatrixF cone32, Z32;
    ColMatrix G32;
    Eigen::MatrixXf G32_base(d, J);
    std::vector<double> t32;
    if (f32) {
      op32.forward(V32, &yhat32, relu ? &cone32 : nullptr);
      op32.adjoint(R, G32, cone_weights32);
      Z32.resize(n, J);
      t32 = median_seconds(repeats, {[&] { Z32.noalias() = X32 * V32; },
                                     [&] { op32.forward(V32, &yhat32, relu ? &cone32 : nullptr); },
                                     [&] { G32_base.noalias() = X32.transpose() * S32; },
                                     [&] { op32.adjoint(R, G32, cone_weights32); }});
    }
    if (ti == 0) {
      // The reference: the baseline GEMM's output, masked and summed in the plainest way.
      yhat_ref.setZero(n, 1);
      if (relu) cone_ref.resize(n, J);
      for (Index k = 0; k < n; ++k)
        for (Index j = 0; j < J; ++j) {
          const double m = mask(k, groups[j].pattern);
          yhat_ref(k, 0) += groups[j].sign * m * Z(k, j);
          if (relu) cone_ref(k, j) = (2.0 * m - 1.0) * Z(k, j);
        }
      G_ref = G_base;
      yhat_first = yhat;
      cone_first = cone;
      G_first = G;
      yhat32_first = yhat32;
      cone32_first = cone32;
      G32_first = G32;
    } else {
      identical = identical && bitwise_equal(yhat, yhat_first) && bitwise_equal(G, G_first) &&
                  (!relu || bitwise_equal(cone, cone_first));
      identical = identical && bitwise_equal(yhat32, yhat32_first) && bitwise_equal(G32, G32_first) &&
                  (!relu || bitwise_equal(cone32, cone32_first));
    }
    const double diff_y = relative_difference(yhat, yhat_ref);
    const double diff_c = relu ? relative_difference(cone, cone_ref) : 0.0;
    const double diff_g = relative_difference(G, G_ref);
    const double tol = 1e-10;
    ok = ok && diff_y <= tol && diff_c <= tol && diff_g <= tol;

    fmt::print("  {:>7}  {:>9}  {:>11.2f}  {:>11.2f}  {:>6.2f}  {:>10.1e}{}\n", threads, "forward", flops / t_fwd * 1e-9,
               flops / t_gemm_fwd * 1e-9, t_gemm_fwd / t_fwd, std::max(diff_y, diff_c),
               relu ? fmt::format("  (ŷ {:.1e}, cone {:.1e})", diff_y, diff_c) : std::string());
    fmt::print("  {:>7}  {:>9}  {:>11.2f}  {:>11.2f}  {:>6.2f}  {:>10.1e}\n", threads, "adjoint", flops / t_adj * 1e-9,
               flops / t_gemm_adj * 1e-9, t_gemm_adj / t_adj, diff_g);
    if (f32) {
      // Against the float64 reference: the rounding of X and V to float32 shows here.
      const double d32_y = relative_difference(yhat32, yhat_ref);
      const double d32_c = relu ? relative_difference(Matrix(cone32.cast<double>()), cone_ref) : 0.0;
      const double d32_g = relative_difference(G32, G_ref);
      const double tol32 = 1e-4;
      ok = ok && d32_y <= tol32 && d32_c <= tol32 && d32_g <= tol32;
      fmt::print("  {:>7}  {:>9}  {:>11.2f}  {:>11.2f}  {:>6.2f}  {:>10.1e}{}\n", threads, "fwd f32",
                 flops / t32[1] * 1e-9, flops / t32[0] * 1e-9, t32[0] / t32[1], std::max(d32_y, d32_c),
                 relu ? fmt::format("  (ŷ {:.1e}, cone {:.1e})", d32_y, d32_c) : std::string());
      fmt::print("  {:>7}  {:>9}  {:>11.2f}  {:>11.2f}  {:>6.2f}  {:>10.1e}\n", threads, "adj f32",
                 flops / t32[3] * 1e-9, flops / t32[2] * 1e-9, t32[2] / t32[3], d32_g);
    }
  }
  if (thread_counts.size() > 1)
    fmt::print("  1 thread and {} threads bit-identical: {}\n", thread_counts.back(), identical ? "yes" : "NO");
  return ok && identical;
}

std::vector<Index> parse_list(const std::string& text) {
  std::vector<Index> values;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t comma = text.find(',', start);
    values.push_back(std::stol(text.substr(start, comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

}  // namespace

static int run_bench(int argc, char** argv) {
  int repeats = 5;
  bool f32 = true;
  Index n = 20000, P = 1000;
  std::vector<Index> dims{100, 50, 10};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    try {
      if (flag == "--repeats") repeats = std::stoi(value);
      else if (flag == "--n") n = std::stol(value);
      else if (flag == "--patterns") P = std::stol(value);
      else if (flag == "--d") dims = parse_list(value);
      else if (flag == "--f32") f32 = value != "0";
      else {
        fmt::print(stderr, "bench_operator: unknown option {} (expected --repeats, --n, --patterns, --d, --f32)\n", flag);
        return 2;
      }
    } catch (const std::logic_error&) {  // std::stoi's invalid_argument and out_of_range
      fmt::print(stderr, "bench_operator: {} expects a number, got '{}'\n", flag, value);
      return 2;
    }
  }
  set_num_threads(0);
  const int all = num_threads();
  std::vector<int> thread_counts{1};
  if (all > 1) thread_counts.push_back(all);
  fmt::print("pattern operator vs Eigen GEMM of the same shape; median of {} runs; {} thread(s) available\n", repeats,
             all);

  bool ok = true;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    ok = run_case(n, dims[i], P, /*relu=*/false, repeats, thread_counts, f32) && ok;
    if (i == 0) ok = run_case(n, dims[i], P, /*relu=*/true, repeats, thread_counts, f32) && ok;
  }
  fmt::print("\npeak resident memory: {:.0f} MiB\n", peak_rss_mib());
  fmt::print("outputs {}\n", ok ? "correct" : "WRONG");
  return ok ? 0 : 1;
}

// A bad argument or a missing data file ends the run with its message, not an abort.
int main(int argc, char** argv) {
  try {
    return run_bench(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_operator: {}\n", e.what());
    return 2;
  }
}
