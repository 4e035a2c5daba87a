// The seed notebook, end to end: 1-D sine data, a wide ReLU network trained by full-batch gradient
// descent from PyTorch's initialisation, the convex (signed) program over the patterns of that
// initial network, and the certified global optimum over every pattern — compared in one table
// and one figure.
//
// Notebook settings are the defaults: x = linspace(−1, 1, 10), X = [x, 1], y = sin(10 x),
// m = 500 units without biases, SGD lr = 0.01 (no momentum, no weight decay) for 20000 steps on
// MSELoss, printing every 2000 steps; the convex programs use β = 1e-3 and the objective
// mean((ŷ − y)²) + β Σ‖w_i‖. Every objective in the table is (NC) with that β.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cvxnn/network/gradient_training.hpp"
#include "cvxnn/network/two_layer_network.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/report/plot_1d.hpp"

namespace cvxnn {

struct SineDemoOptions {
  Index points = 10;
  double frequency = 10.0;
  Index neurons = 500;
  int steps = 20000;
  double learning_rate = 0.01;
  double beta = 1e-3;
  std::uint64_t seed = 0;
  int log_every = 2000;
  double tol = 1e-8;            ///< relative gap of the convex solves
  std::string output_dir = "sine-demo";
  double plot_min = -1.5, plot_max = 1.5;
  std::function<void(const TrainingLogEntry&)> on_log;  ///< the GD log, as the notebook prints it
  std::function<void(int, double)> on_progress;         ///< GD steps taken and seconds, every 64 steps

  std::string check() const;
};

/// One line of the comparison table.
struct SineDemoRow {
  std::string name;
  std::string model_file;
  TwoLayerNetwork network;
  double objective = 0.0;  ///< (NC) with β
  double mse = 0.0;        ///< mean((ŷ − y)²) on the training points
  Index units = 0;         ///< units with nonzero weights
  double seconds = 0.0;
  std::string status;
  Certificate certificate;  ///< against the global program for GD, the program itself for the others
};

struct SineDemoResult {
  std::vector<SineDemoRow> rows;  ///< gradient descent, convex over initial patterns, global optimum
  double global_lower_bound = 0.0;
  Index global_patterns = 0;      ///< every activation pattern of the data
  Vector x, y;                    ///< the training data
  PlotFiles plot;
  std::string data_file;
};

/// Runs everything, writes the output folder (created if missing): data.csv, gd.json,
/// convex-initial.json, global.json, the figure (sine.png/.svg with gnuplot, and always its data
/// and sine.gp).
SineDemoResult run_sine_demo(const SineDemoOptions& options);

}  // namespace cvxnn
