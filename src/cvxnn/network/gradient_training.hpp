// The nonconvex baseline: a two-layer ReLU network trained by gradient methods on (NC),
//
//   ℓ(relu(X W1ᵀ) W2ᵀ, Y) + (λ/2) (‖W1‖²_F + ‖W2‖²_F),
//
// with ℓ one of loss.hpp's losses (squared by default: (1/(n c)) ‖Ŷ − Y‖²_F, PyTorch MSELoss;
// logistic: BCEWithLogitsLoss on ±1 targets; cross-entropy: CrossEntropyLoss on one-hot rows)
// and λ the weight decay (PyTorch's `weight_decay`, added to the gradient as λ W). Optimisers
// follow PyTorch's update rules exactly (torch.optim.SGD with momentum and no dampening,
// torch.optim.Adam with L2 weight decay), so a run here is comparable step for step with the
// seed notebook's `optim.SGD(lr=0.01)` loop. The network type is the one the convex path returns,
// so both can be predicted with, certified and saved the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cvxnn/core/types.hpp"
#include "cvxnn/network/two_layer_network.hpp"
#include "cvxnn/problem/loss.hpp"

namespace cvxnn {

enum class Optimizer { sgd, adam };
std::string to_string(Optimizer optimizer);
/// "sgd" or "adam"; anything else is InvalidInput.
Optimizer optimizer_from_string(const std::string& name);

/// One line of the training log (the notebook prints the step and the loss every 2000 steps).
struct TrainingLogEntry {
  int step = 0;           ///< steps taken before this entry
  double loss = 0.0;      ///< ℓ(f(X), Y) on the whole training set ((1/(n c)) ‖f(X) − Y‖² when squared)
  double objective = 0.0; ///< loss + (λ/2)(‖W1‖² + ‖W2‖²) with the training weight decay λ
  double seconds = 0.0;
};

struct GradientTrainingOptions {
  Optimizer optimizer = Optimizer::sgd;
  /// The training loss; Y must be in its encoding (Loss::check_targets).
  LossKind loss = LossKind::squared;
  double learning_rate = 0.01;
  double momentum = 0.0;      ///< SGD only
  double weight_decay = 0.0;  ///< λ
  double adam_beta1 = 0.9, adam_beta2 = 0.999, adam_epsilon = 1e-8;
  int steps = 20000;
  Index batch_size = 0;       ///< 0: full batch; otherwise reshuffled (seeded) every epoch
  std::uint64_t seed = 0;     ///< mini-batch order
  int log_every = 2000;       ///< 0: only the first and last entries
  /// Called with every log entry; return false to stop training.
  std::function<bool(const TrainingLogEntry&)> callback;
  /// Called every 64 steps with the steps taken and the seconds elapsed (progress displays).
  std::function<void(int, double)> progress;

  /// Empty when valid, else what is wrong.
  std::string check() const;
};

struct GradientTrainingResult {
  TwoLayerNetwork network;
  std::vector<TrainingLogEntry> log;  ///< at step 0, every log_every steps, and after the last step
  int steps = 0;
  double seconds = 0.0;
  bool stopped = false;  ///< the callback asked to stop
};

/// (NC) objective with weight decay λ and loss ℓ, and its gradient with respect to W1 (m×d) and
/// W2 (c×m) on (X, Y). ReLU'(0) = 0, as in PyTorch.
double network_loss_and_gradient(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y,
                                 double weight_decay, Matrix& grad_W1, Matrix& grad_W2, const Loss& loss = Loss());

/// Trains `initial` (a ReLU network, e.g. random_network_init's) on preprocessed X (n×d, bias
/// column included) and Y (n×c, encoded for options.loss). Throws InvalidInput for bad options,
/// shapes or targets, and when the loss
/// stops being finite (divergence: the message suggests a smaller learning rate).
GradientTrainingResult train_gradient(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& initial,
                                      const GradientTrainingOptions& options);

}  // namespace cvxnn
