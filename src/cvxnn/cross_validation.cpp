// k-fold cross-validation of β (see cross_validation.hpp for the procedure and its conventions).
#include "cvxnn/cross_validation.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <utility>

#include "cvxnn/core/error.hpp"
#include "cvxnn/data/labels.hpp"
#include "cvxnn/path.hpp"
#include "cvxnn/problem/certificate.hpp"
#include "cvxnn/problem/convex_problem.hpp"

namespace cvxnn {

std::string CrossValidationOptions::check() const {
  if (folds < 2) return fmt::format("cross-validation needs at least 2 folds, got {}", folds);
  PathOptions path;
  path.fit = fit;
  path.points = points;
  path.min_ratio = min_ratio;
  path.betas = betas;
  return path.check();
}

namespace {

// A draw in [0, bound) from the generator's raw output by rejection: unlike
// std::uniform_int_distribution its sequence is fixed by the seed on every standard library, so
// the folds of a seed are the same wherever cvxnn is built.
std::uint64_t draw_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % bound;
  std::uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % bound;
}

// Fisher–Yates with draw_below.
void shuffle(std::vector<Index>& items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(draw_below(rng, i));
    std::swap(items[i - 1], items[j]);
  }
}

Matrix select_rows(MatrixView M, const std::vector<Index>& rows) {
  Matrix out(static_cast<Index>(rows.size()), M.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = M.row(rows[i]);
  return out;
}

// The training pipeline's view of some raw rows: features preprocessed and targets in the loss's
// encoding, with the maps fitted on these rows (train_convex_model does the same).
struct Prepared {
  Preprocessing preprocessing;
  Matrix X, Y;
};

Prepared prepare(MatrixView raw_X, MatrixView raw_Y, const LabelEncoding* labels, const DataOptions& data,
                 const std::vector<std::string>& feature_names, const std::vector<std::string>& target_names) {
  Prepared p;
  if (labels) {
    p.Y = labels->encode(raw_Y);
    p.preprocessing = Preprocessing::fit(raw_X, p.Y, data.standardize, false, data.bias, feature_names);
  } else {
    p.preprocessing = Preprocessing::fit(raw_X, raw_Y, data.standardize, data.standardize_targets, data.bias,
                                         feature_names, target_names);
    p.Y = p.preprocessing.transform_targets(raw_Y);
  }
  p.X = p.preprocessing.transform_features(raw_X);
  return p;
}

double mean(const Vector& v) { return v.size() ? v.mean() : std::numeric_limits<double>::quiet_NaN(); }
// Population standard deviation (ddof = 0).
double std_dev(const Vector& v) {
  if (v.size() == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt((v.array() - v.mean()).square().mean());
}

}  // namespace

std::vector<Index> assign_folds(Index n, Index folds, std::uint64_t seed, const Matrix& labels) {
  if (folds < 2) throw InvalidInput(fmt::format("cross-validation needs at least 2 folds, got {}", folds));
  if (folds > n) {
    throw InvalidInput(fmt::format("{} folds need at least {} rows, the data has {}", folds, folds, n));
  }
  std::mt19937_64 rng(seed);
  std::vector<Index> fold_of(static_cast<std::size_t>(n), 0);
  // Groups of rows dealt one after another, round robin, the deal continuing where the previous
  // group stopped: each group spreads evenly over the folds and so do all rows together.
  std::vector<std::vector<Index>> groups;
  if (labels.size() == 0) {
    groups.emplace_back();
    for (Index i = 0; i < n; ++i) groups.back().push_back(i);
  } else {
    if (labels.rows() != n || labels.cols() != 1) {
      throw InvalidInput(fmt::format("stratified folds need one label column of {} rows, got {}×{}", n, labels.rows(),
                                     labels.cols()));
    }
    std::map<double, std::vector<Index>> by_class;  // classes in increasing order
    for (Index i = 0; i < n; ++i) by_class[labels(i, 0)].push_back(i);
    for (auto& [label, rows] : by_class) {
      if (static_cast<Index>(rows.size()) < folds) {
        const std::string advice = rows.size() < 2 ? "a class of one row cannot be both trained on and held out: "
                                                     "remove or merge it"
                                                   : fmt::format("use at most {} folds, or merge rare classes", rows.size());
        throw InvalidInput(fmt::format(
            "stratified {}-fold cross-validation needs at least {} rows of every class; class {:g} has {} ({})", folds,
            folds, label, rows.size(), advice));
      }
      groups.push_back(std::move(rows));
    }
  }
  Index next = 0;
  for (std::vector<Index>& rows : groups) {
    shuffle(rows, rng);
    for (const Index row : rows) {
      fold_of[static_cast<std::size_t>(row)] = next;
      next = (next + 1) % folds;
    }
  }
  return fold_of;
}

CrossValidationResult cross_validate(MatrixView raw_X, MatrixView raw_Y, const std::vector<std::string>& feature_names,
                                     const std::vector<std::string>& target_names,
                                     const CrossValidationOptions& options,
                                     const std::function<bool(const CrossValidationProgress&)>& on_progress) {
  if (const std::string problem_text = options.check(); !problem_text.empty()) throw InvalidInput(problem_text);
  if (raw_X.rows() != raw_Y.rows()) {
    throw InvalidInput(fmt::format("X has {} rows but Y has {}", raw_X.rows(), raw_Y.rows()));
  }
  const Index n = raw_X.rows();
  const bool classifier = options.fit.loss != LossKind::squared;
  const Loss loss(options.fit.loss);
  LabelEncoding labels;
  if (classifier) {
    labels = LabelEncoding::fit(raw_Y, options.fit.loss,
                                target_names.size() == 1 ? "target '" + target_names[0] + "'" : "the target");
  }
  const LabelEncoding* encoding = classifier ? &labels : nullptr;

  CrossValidationResult result;
  result.fold_of_row = assign_folds(n, options.folds, options.fold_seed, classifier ? Matrix(raw_Y) : Matrix());

  // Stopping: once the callback says so, every solve still to come stops at its first check.
  bool stop = false;
  FitOptions fit = options.fit;
  const SolverCallback user_callback = options.fit.solver.callback;
  fit.solver.callback = [&stop, user_callback](const IterationRecord& record) {
    if (stop) return false;
    return user_callback ? user_callback(record) : true;
  };
  auto report = [&](const CrossValidationProgress& progress) {
    if (on_progress && !on_progress(progress)) stop = true;
  };

  // The grid, from the full data as the final fit will see it.
  std::vector<double> grid = options.betas;
  {
    const Prepared full = prepare(raw_X, raw_Y, encoding, options.data, feature_names, target_names);
    FitOptions probe_options = fit;
    probe_options.beta = 1.0;
    const ConvexProblem probe = make_problem(full.X, full.Y, choose_patterns(full.X, full.Y.cols(), probe_options),
                                             probe_options, 1.0);
    result.beta_max = beta_max(probe);
  }
  if (grid.empty()) {
    if (!(result.beta_max > 0.0)) {
      throw InvalidInput("beta_max of the data is 0 (the targets are constant): the zero network fits them at every "
                         "beta, so there is nothing to choose");
    }
    for (Index k = 0; k < options.points; ++k) {
      const double t = options.points == 1 ? 0.0 : double(k) / double(options.points - 1);
      grid.push_back(result.beta_max * std::pow(options.min_ratio, t));
    }
  }
  std::sort(grid.rbegin(), grid.rend());
  const auto P = static_cast<Index>(grid.size());
  const Index K = options.folds;

  Matrix fold_loss(P, K), fold_accuracy(P, K), fold_units(P, K), fold_gap(P, K);
  Eigen::Matrix<Index, Eigen::Dynamic, Eigen::Dynamic> fold_converged(P, K);
  fold_converged.setZero();
  for (Index fold = 0; fold < K && !stop; ++fold) {
    std::vector<Index> train_rows, validation_rows;
    for (Index i = 0; i < n; ++i) (result.fold_of_row[static_cast<std::size_t>(i)] == fold ? validation_rows : train_rows).push_back(i);
    const Matrix train_X = select_rows(raw_X, train_rows), train_Y = select_rows(raw_Y, train_rows);
    const Matrix validation_X = select_rows(raw_X, validation_rows), validation_Y = select_rows(raw_Y, validation_rows);
    Prepared train;
    try {
      train = prepare(train_X, train_Y, encoding, options.data, feature_names, target_names);
    } catch (const InvalidInput& e) {
      throw InvalidInput(fmt::format("fold {} of {} (its {} training rows): {}", fold + 1, K, train_rows.size(), e.what()));
    }
    const Matrix held_out_X = train.preprocessing.transform_features(validation_X);
    const Matrix held_out_Y = classifier ? labels.encode(validation_Y) : Matrix();
    const double n_validation = double(validation_rows.size());

    PathOptions path;
    path.fit = fit;
    path.betas = grid;
    Index point = 0;
    regularization_path(train.X, train.Y, path, [&](const PathPoint& p) {
      const Matrix scores = p.network.predict(held_out_X);
      double validation_loss = 0.0;
      if (classifier) {
        validation_loss = loss.value(scores, held_out_Y);
        const Matrix predicted = labels.labels_of(scores);
        fold_accuracy(point, fold) = double((predicted.array() == validation_Y.array()).count()) / n_validation;
      } else {
        const Matrix predicted = train.preprocessing.inverse_transform_targets(scores);
        validation_loss = (predicted - validation_Y).squaredNorm() / double(validation_Y.size());
        fold_accuracy(point, fold) = std::numeric_limits<double>::quiet_NaN();
      }
      fold_loss(point, fold) = validation_loss;
      fold_units(point, fold) = double(p.units);
      fold_gap(point, fold) = p.certificate.relative_gap;
      fold_converged(point, fold) = p.status == SolveStatus::converged ? 1 : 0;
      report({fold, K, point, P, p.beta, validation_loss, p.certificate.relative_gap});
      ++point;
    });
  }
  if (stop) {
    result.stopped = true;
    return result;
  }

  for (Index k = 0; k < P; ++k) {
    CrossValidationPoint pt;
    pt.beta = grid[static_cast<std::size_t>(k)];
    pt.fold_loss = fold_loss.row(k).transpose();
    pt.mean_loss = mean(pt.fold_loss);
    pt.std_loss = std_dev(pt.fold_loss);
    if (classifier) {
      pt.fold_accuracy = fold_accuracy.row(k).transpose();
      pt.mean_accuracy = mean(pt.fold_accuracy);
      pt.std_accuracy = std_dev(pt.fold_accuracy);
    } else {
      pt.mean_accuracy = pt.std_accuracy = std::numeric_limits<double>::quiet_NaN();
    }
    pt.mean_units = fold_units.row(k).mean();
    pt.max_relative_gap = fold_gap.row(k).maxCoeff();
    pt.converged_folds = fold_converged.row(k).sum();
    result.points.push_back(std::move(pt));
  }
  // Strictly smaller only: on a tie the earlier point, the larger β, stays chosen.
  for (Index k = 1; k < P; ++k) {
    if (result.points[static_cast<std::size_t>(k)].mean_loss < result.points[static_cast<std::size_t>(result.chosen)].mean_loss) {
      result.chosen = k;
    }
  }
  result.chosen_beta = grid[static_cast<std::size_t>(result.chosen)];

  report({K, K, result.chosen, P, result.chosen_beta, std::numeric_limits<double>::quiet_NaN(), 0.0});
  if (stop) {
    result.stopped = true;
    return result;
  }
  FitOptions final_options = fit;
  final_options.beta = result.chosen_beta;
  result.model = train_convex_model(raw_X, raw_Y, feature_names, target_names, options.data, final_options,
                                    &result.final_fit);
  return result;
}

CrossValidationResult cross_validate(const Dataset& data, const CrossValidationOptions& options,
                                     const std::function<bool(const CrossValidationProgress&)>& on_progress) {
  check_targets_suit_loss(data, options.fit.loss);
  CrossValidationResult result =
      cross_validate(data.X, data.Y, data.feature_names, data.target_names, options, on_progress);
  if (!result.stopped) result.model.class_names = data.class_names;
  return result;
}

}  // namespace cvxnn
