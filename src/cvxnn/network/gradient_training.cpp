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

namespace {

// Buffers of one gradient evaluation, kept across steps: a training step then allocates nothing,
// which matters for the notebook's sizes (10 × 500), where a step is a few microseconds of work.
// The first layer is handled transposed, W1ᵀ (d×m), so that a row holds one input's weight in
// every unit: all loops below then run over m contiguous numbers.
struct GradientWorkspace {
  Matrix Z, H, Yhat, residual, dZ;

  double evaluate(const Matrix& W1t, const Matrix& W2, const Matrix& X, const Matrix& Y, double weight_decay,
                  Matrix& grad_W1t, Matrix& grad_W2, const Loss& datafit) {
    const Index n = X.rows(), d = X.cols(), m = W1t.cols(), c = Y.cols();
    const double scale = 1.0 / double(Y.size());
    double loss = 0.0;
    if (datafit.kind() != LossKind::squared) {
      // Classification losses: the same backward pass with G = ∇ℓ(Ŷ) from loss.hpp (kept in
      // `residual`). Separate from the squared paths below so that those stay bit-identical to
      // what the PyTorch comparisons were written against.
      Z.noalias() = X * W1t;
      H = Z.cwiseMax(0.0);
      Yhat.noalias() = H * W2.transpose();
      loss = datafit.value(Yhat, Y);
      residual = datafit.gradient(Yhat, Y);
      grad_W2.noalias() = residual.transpose() * H;
      dZ.noalias() = residual * W2;
      dZ = (Z.array() > 0.0).select(dZ, 0.0);
      grad_W1t.noalias() = X.transpose() * dZ;
    } else if (d > 16 || c > 16) {
      // Forward: Z = X W1ᵀ (n×m), H = relu(Z), Ŷ = H W2ᵀ (n×c); backward with G = (2/(n c))(Ŷ − Y),
      // kept in `residual`: ∂/∂W2 = Gᵀ H, ∂/∂Z = (G W2) ∘ 1[Z > 0], ∂/∂W1ᵀ = Xᵀ (∂/∂Z).
      Z.noalias() = X * W1t;
      H = Z.cwiseMax(0.0);
      residual.noalias() = H * W2.transpose();
      residual -= Y;
      loss = scale * residual.squaredNorm();
      residual *= 2.0 * scale;
      grad_W2.noalias() = residual.transpose() * H;
      dZ.noalias() = residual * W2;
      dZ = (Z.array() > 0.0).select(dZ, 0.0);
      grad_W1t.noalias() = X.transpose() * dZ;
    } else {
      // The same, sample by sample with whole rows of m units at a time: with a handful of inputs
      // and outputs, Eigen's packed GEMM spends more on packing than on arithmetic.
      Z.resize(n, m);
      H.resize(n, m);
      residual.resize(n, c);
      dZ.resize(n, m);
      grad_W1t.setZero(d, m);
      grad_W2.setZero(c, m);
      for (Index k = 0; k < n; ++k) {
        auto z = Z.row(k);
        z = X(k, 0) * W1t.row(0);
        for (Index t = 1; t < d; ++t) z += X(k, t) * W1t.row(t);
        auto h = H.row(k);
        h = z.cwiseMax(0.0);
        auto dz = dZ.row(k);
        for (Index o = 0; o < c; ++o) {
          const double r = h.dot(W2.row(o)) - Y(k, o);
          loss += scale * r * r;
          const double g = 2.0 * scale * r;
          residual(k, o) = g;
          grad_W2.row(o) += g * h;
          if (o == 0) {
            dz = g * W2.row(0);
          } else {
            dz += g * W2.row(o);
          }
        }
        dz = (z.array() > 0.0).select(dz, 0.0);
        for (Index t = 0; t < d; ++t) grad_W1t.row(t) += X(k, t) * dz;
      }
    }
    if (weight_decay != 0.0) {
      grad_W1t += weight_decay * W1t;
      grad_W2 += weight_decay * W2;
    }
    return loss + 0.5 * weight_decay * (W1t.squaredNorm() + W2.squaredNorm());
  }
};

}  // namespace

double network_loss_and_gradient(const TwoLayerNetwork& network, const Matrix& X, const Matrix& Y,
                                 double weight_decay, Matrix& grad_W1, Matrix& grad_W2, const Loss& loss) {
  GradientWorkspace workspace;
  Matrix grad_W1t;
  const double value =
      workspace.evaluate(network.W1.transpose(), network.W2, X, Y, weight_decay, grad_W1t, grad_W2, loss);
  grad_W1 = grad_W1t.transpose();
  return value;
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
        parameter.noalias() -= options_.learning_rate * gradient;
        return;
      }
      // buf ← μ buf + g (buf = g at the first step); p ← p − lr buf.
      if (step == 1) {
        first_ = gradient;
      } else {
        first_ = options_.momentum * first_ + gradient;
      }
      parameter.noalias() -= options_.learning_rate * first_;
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
  const Loss datafit(options.loss);
  datafit.check_targets(Y);
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  GradientTrainingResult result;
  result.network = initial;
  TwoLayerNetwork& net = result.network;
  Matrix W1t = net.W1.transpose();  // trained transposed (see GradientWorkspace); net.W1 synced at logs
  ParameterUpdate update_W1(options, W1t.rows(), W1t.cols()), update_W2(options, net.W2.rows(), net.W2.cols());
  Matrix grad_W1t, grad_W2;
  GradientWorkspace workspace;

  const Index n = X.rows();
  const bool full_batch = options.batch_size == 0 || options.batch_size >= n;
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index{0});
  std::mt19937_64 rng(options.seed);
  std::size_t next = order.size();  // position in the current epoch; reshuffle when exhausted

  auto log = [&](int step) {
    net.W1 = W1t.transpose();
    TrainingLogEntry entry;
    entry.step = step;
    entry.loss = network_objective(net, X, Y, 0.0, datafit);
    entry.objective = entry.loss + 0.5 * options.weight_decay * (net.W1.squaredNorm() + net.W2.squaredNorm());
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
        objective = workspace.evaluate(W1t, net.W2, X, Y, options.weight_decay, grad_W1t, grad_W2, datafit);
      } else {
        if (next + static_cast<std::size_t>(options.batch_size) > order.size()) {
          std::shuffle(order.begin(), order.end(), rng);
          next = 0;
        }
        const auto count = static_cast<std::size_t>(options.batch_size);
        objective = workspace.evaluate(W1t, net.W2, gather_rows(X, order, next, count),
                                       gather_rows(Y, order, next, count), options.weight_decay, grad_W1t, grad_W2,
                                       datafit);
        next += count;
      }
      if (!std::isfinite(objective)) {
        throw InvalidInput(fmt::format("gradient training diverged at step {} (the loss is not finite); "
                                       "use a smaller learning rate",
                                       step));
      }
      update_W1.apply(W1t, grad_W1t, step);
      update_W2.apply(net.W2, grad_W2, step);
      result.steps = step;
      if (options.progress && step % 64 == 0) options.progress(step, elapsed());
      const bool due = (options.log_every > 0 && step % options.log_every == 0) || step == options.steps;
      if (due && !log(step)) {
        result.stopped = true;
        break;
      }
    }
  }
  net.W1 = W1t.transpose();
  result.seconds = elapsed();
  return result;
}

}  // namespace cvxnn
