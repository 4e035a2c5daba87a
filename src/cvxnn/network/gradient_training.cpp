#include "cvxnn/network/gradient_training.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include "cvxnn/core/error.hpp"

namespace cvxnn {

std::string to_string(Optimizer optimizer) { return optimizer == Optimizer::adam ? "adam" : "sgd"; }

Optimizer optimizer_from_string(const std::string& name) {
  if (name == "sgd") return Optimizer::sgd;
  if (name == "adam") return Optimizer::adam;
  throw InvalidInput("unknown optimizer '" + name + "': expected sgd or adam");
}

std::string GradientTrainingOptions::check() const {
  auto positive = [](double v) { return v > 0.0 && std::isfinite(v); };
  if (!positive(learning_rate)) return fmt::format("the learning rate must be a positive number, got {}", learning_rate);
  if (!(momentum >= 0.0 && momentum < 1.0)) return fmt::format("momentum must be in [0, 1), got {}", momentum);
  if (!(weight_decay >= 0.0) || !std::isfinite(weight_decay)) {
    return fmt::format("weight decay must be a non-negative number, got {}", weight_decay);
  }
  if (!(adam_beta1 >= 0.0 && adam_beta1 < 1.0) || !(adam_beta2 >= 0.0 && adam_beta2 < 1.0)) {
    return fmt::format("Adam's betas must be in [0, 1), got {} and {}", adam_beta1, adam_beta2);
  }
  if (!positive(adam_epsilon)) return fmt::format("Adam's epsilon must be positive, got {}", adam_epsilon);
  if (steps < 0) return fmt::format("the number of steps must be non-negative, got {}", steps);
  if (batch_size < 0) return fmt::format("the batch size must be non-negative (0: full batch), got {}", batch_size);
  if (log_every < 0) return fmt::format("log_every must be non-negative, got {}", log_every);
  return "";
}

double network_loss_and_gradient(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y,
                                 double weight_decay, Matrix& grad_W1, Matrix& grad_W2) {
  // Forward: Z = X W1ᵀ (n×m), H = relu(Z), Ŷ = H W2ᵀ (n×c).
  const Matrix Z = X * network.W1.transpose();
  const Matrix H = Z.cwiseMax(0.0);
  const Matrix residual = H * network.W2.transpose() - Y;
  const double scale = 1.0 / double(Y.size());
  // Backward: G = ∂loss/∂Ŷ = (2/(n c)) (Ŷ − Y); ∂/∂W2 = Gᵀ H; ∂/∂Z = (G W2) ∘ 1[Z > 0]; ∂/∂W1 = (∂/∂Z)ᵀ X.
  const Matrix G = (2.0 * scale) * residual;
  grad_W2 = G.transpose() * H;
  const Matrix dZ = (G * network.W2).cwiseProduct((Z.array() > 0.0).cast<double>().matrix());
  grad_W1 = dZ.transpose() * X;
  grad_W1 += weight_decay * network.W1;
  grad_W2 += weight_decay * network.W2;
  return scale * residual.squaredNorm() +
         0.5 * weight_decay * (network.W1.squaredNorm() + network.W2.squaredNorm());
}

namespace {

// PyTorch's torch.optim.SGD (dampening 0, no Nesterov) and torch.optim.Adam (L2 weight decay,
// already in the gradient), for one parameter matrix.
class ParameterUpdate {
 public:
  ParameterUpdate(const GradientTrainingOptions& options, Index rows, Index cols)
      : options_(options), first_(Matrix::Zero(rows, cols)), second_(Matrix::Zero(rows, cols)) {}

  void apply(Matrix& parameter, const Matrix& gradient, int step /* 1-based */) {
    if (options_.optimizer == Optimizer::sgd) {
      if (options_.momentum == 0.0) {
        parameter -= options_.learning_rate * gradient;
        return;
      }
      // buf ← μ buf + g (buf = g at the first step); p ← p − lr buf.
      first_ = step == 1 ? gradient : Matrix(options_.momentum * first_ + gradient);
      parameter -= options_.learning_rate * first_;
      return;
    }
    const double b1 = options_.adam_beta1, b2 = options_.adam_beta2;
    first_ = b1 * first_ + (1.0 - b1) * gradient;
    second_ = b2 * second_ + (1.0 - b2) * gradient.cwiseAbs2();
    const double correction1 = 1.0 - std::pow(b1, step), correction2 = 1.0 - std::pow(b2, step);
    // p ← p − (lr / c₁) m / (√v / √c₂ + ε)
    parameter.array() -= (options_.learning_rate / correction1) * first_.array() /
                         ((second_.array() / correction2).sqrt() + options_.adam_epsilon);
  }

 private:
  const GradientTrainingOptions& options_;
  Matrix first_, second_;
};

Matrix gather_rows(const Matrix& A, const std::vector<Index>& rows, std::size_t first, std::size_t count) {
  Matrix out(static_cast<Index>(count), A.cols());
  for (std::size_t i = 0; i < count; ++i) out.row(static_cast<Index>(i)) = A.row(rows[first + i]);
  return out;
}

}  // namespace

GradientTrainingResult train_gradient(const Matrix& X, const Matrix& Y, const TwoLayerNetwork& initial,
                                      const GradientTrainingOptions& options) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  initial.check();
  if (initial.gated()) throw InvalidInput("gradient training takes a ReLU network, not a gated one");
  if (X.rows() == 0 || X.rows() != Y.rows()) {
    throw InvalidInput(fmt::format("gradient training needs data: X has {} rows, Y has {}", X.rows(), Y.rows()));
  }
  if (X.cols() != initial.input_dim() || Y.cols() != initial.output_dim()) {
    throw InvalidInput(fmt::format("the network takes {} inputs and gives {} outputs, the data has {} and {}",
                                   initial.input_dim(), initial.output_dim(), X.cols(), Y.cols()));
  }
  if (!X.allFinite() || !Y.allFinite()) throw InvalidInput("the training data contains NaN or Inf");
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  GradientTrainingResult result;
  result.network = initial;
  TwoLayerNetwork& net = result.network;
  ParameterUpdate update_W1(options, net.W1.rows(), net.W1.cols()), update_W2(options, net.W2.rows(), net.W2.cols());
  Matrix grad_W1, grad_W2;

  const Index n = X.rows();
  const bool full_batch = options.batch_size == 0 || options.batch_size >= n;
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::mt19937_64 rng(options.seed);
  std::size_t next = order.size();  // position in the current epoch; reshuffle when exhausted

  auto log = [&](int step) {
    Matrix unused_W1, unused_W2;
    TrainingLogEntry entry;
    entry.step = step;
    entry.objective = network_loss_and_gradient(net, X, Y, options.weight_decay, unused_W1, unused_W2);
    entry.loss = entry.objective - 0.5 * options.weight_decay * (net.W1.squaredNorm() + net.W2.squaredNorm());
    entry.seconds = elapsed();
    if (!std::isfinite(entry.objective)) {
      throw InvalidInput(fmt::format("gradient training diverged by step {} (the loss is not finite); "
                                     "use a smaller learning rate",
                                     step));
    }
    result.log.push_back(entry);
    return !options.callback || options.callback(entry);
  };

  if (!log(0)) {
    result.stopped = true;
  } else {
    for (int step = 1; step <= options.steps; ++step) {
      double objective;
      if (full_batch) {
        objective = network_loss_and_gradient(net, X, Y, options.weight_decay, grad_W1, grad_W2);
      } else {
        if (next + static_cast<std::size_t>(options.batch_size) > order.size()) {
          std::shuffle(order.begin(), order.end(), rng);
          next = 0;
        }
        const auto count = static_cast<std::size_t>(options.batch_size);
        objective = network_loss_and_gradient(net, gather_rows(X, order, next, count), gather_rows(Y, order, next, count),
                                              options.weight_decay, grad_W1, grad_W2);
        next += count;
      }
      if (!std::isfinite(objective)) {
        throw InvalidInput(fmt::format("gradient training diverged at step {} (the loss is not finite); "
                                       "use a smaller learning rate",
                                       step));
      }
      update_W1.apply(net.W1, grad_W1, step);
      update_W2.apply(net.W2, grad_W2, step);
      result.steps = step;
      const bool due = (options.log_every > 0 && step % options.log_every == 0) || step == options.steps;
      if (due && !log(step)) {
        result.stopped = true;
        break;
      }
    }
  }
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
