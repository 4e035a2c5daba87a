// The 2-D showcase: two interleaved spirals (or two moons), n labelled points in the plane. With
// a bias column the data has rank 3, so every activation pattern can be enumerated (about n²)
// and the relu program (R) over all of them, with the logistic loss, is the training problem of
// every two-layer ReLU network of any width (design notes §1): its certified optimum is the
// *global* optimum. Next to it, Adam-trained ReLU networks of the same width from several seeds,
// with the same β as weight decay; each is certified against the global program's dual bound, so
// its gap says how far above the best possible network it stopped.
//
// Every objective is (NC): (1/n) Σ log(1 + exp(−y ŷ)) + (β/2)(‖W1‖² + ‖W2‖²) on standardised
// features with a bias column.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cvxnn/network/two_layer_network.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/report/plot_1d.hpp"

namespace cvxnn {

enum class SpiralData { spirals, moons };
/// "spirals" or "moons"; anything else is InvalidInput.
SpiralData spiral_data_from_string(const std::string& name);
std::string to_string(SpiralData data);

struct SpiralDemoOptions {
  SpiralData data = SpiralData::spirals;
  /// n, split evenly between the two classes. The logistic relu program over all ~n² patterns
  /// is solved by the working set with proximal Newton on its rounds (the interior point on their
  /// models, proximal_newton.hpp): on the 2-core development machine about 3 s at n = 40, 16 s at
  /// n = 100 (9901 patterns) and 2 min at n = 200 (39801 patterns).
  Index points = 100;
  double noise = -1.0;      ///< Gaussian noise per coordinate; < 0: 0.05 for spirals, 0.1 for moons
  double turns = 1.25;      ///< spirals: turns of each arm
  double beta = 1e-2;
  double tol = 1e-6;        ///< relative gap of the global program
  int seeds = 5;            ///< Adam networks
  int steps = 20000;        ///< Adam steps (full batch)
  double learning_rate = 0.01;
  std::uint64_t seed = 0;   ///< data; Adam network k starts from random_network_init(seed + 1 + k)
  Index grid = 160;         ///< figure: grid points per axis
  std::string output_dir = "spiral-demo";
  std::function<void(const std::string&)> on_stage;  ///< a line before each stage (progress)

  std::string check() const;
};

/// Points and labels (0 or 1) of the demo's data set, seeded.
struct LabelledPoints {
  Matrix X;      ///< n×2
  Vector label;  ///< n, 0 or 1
};
LabelledPoints make_spiral_data(const SpiralDemoOptions& options);

/// One line of the comparison table.
struct SpiralDemoRow {
  std::string name;
  std::string model_file;
  TwoLayerNetwork network;
  double objective = 0.0;  ///< (NC) with β and the logistic loss
  double accuracy = 0.0;   ///< on the training points
  Index units = 0;         ///< units with nonzero weights
  double seconds = 0.0;
  std::string status;
  Certificate certificate;  ///< against the global program (dual: its certified bound)
};

struct SpiralDemoResult {
  std::vector<SpiralDemoRow> rows;  ///< the global optimum, then Adam from each seed
  double global_lower_bound = 0.0;  ///< no network of any width has a smaller objective
  Index global_patterns = 0;        ///< every activation pattern of the data
  Index width = 0;                  ///< units of the global optimum = width of the Adam networks
  std::string data_file;
  PlotFiles plot;
};

/// Runs everything and writes the output folder (created if missing): data.csv (x1, x2, label),
/// global.json, adam-<k>.json (`cvxnn predict` / `certify` work on each), and the figure
/// (spiral.png with gnuplot; always spiral.gp and its data). Options are checked before anything
/// is written.
SpiralDemoResult run_spiral_demo(const SpiralDemoOptions& options);

}  // namespace cvxnn
