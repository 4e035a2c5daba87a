// The pattern operator's kernels: register-blocked products with the mask, signs and row sums
// fused into them (research notes solvers.md §3.1: an unfused forward pass, X V then mask and
// row sum, is memory bound for small d).
//
// Layout. The groups are cut into panels of kPanel groups (one output, one sign, consecutive
// patterns in the usual layouts). V is packed once per call, panel by panel, as d × kPanel
// row-major slabs, so one row t of a panel is kTileVectors SIMD vectors.
//
// Forward. Each task is a block of kRowBlock rows; for each panel, a tile of kTileRows rows ×
// kPanel groups of X V is accumulated in registers over t = 0..d−1 (broadcast x_kt, times the
// panel's row t), and consumed at once: ŷ_k += Σ_s sign_s m_{k,p_s} z_ks as a SIMD partial sum
// per row and output, the cone values (2m − 1) z written out, relu(z) summed. Nothing of X V
// ever leaves the registers. The per-row partial sums are reduced across lanes once per block.
//
// Adjoint. Each task is a run of kPanelsPerTask panels, G's columns for them kept as packed
// d × kPanel slabs. For each block of kAdjointRowBlock rows and each panel, the masked residual
// block S (rows × kPanel: sign_s m_{k,p_s} r_{k,o} [+ (2m − 1) q]) is formed in L1, then
// G_panel += X_blockᵀ S by register tiles of kTileRows features × kPanel groups.
//
// Determinism. Every output entry is summed by one thread in an order fixed by the data's shape
// (forward: panels in order, lanes in order; adjoint: rows in order), never by the thread
// count or the schedule, so one thread and N threads give bit-identical results.
#include "cvxnn/problem/pattern_operator.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

namespace {

// SIMD width and register tile, by instruction set (32 vector registers with AVX-512, 16 below).
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr int kTileRows = 6, kTileVectors = 4;  // 24 accumulators
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
constexpr int kTileRows = 4, kTileVectors = 3;  // 12 accumulators
#else
constexpr int kVectorBytes = 16;
constexpr int kTileRows = 4, kTileVectors = 3;
#endif
constexpr int kLanes = kVectorBytes / int(sizeof(double));
constexpr Index kPanel = Index{kTileVectors} * kLanes;  // groups per panel
// Forward rows per task: the X block (kRowBlock × d) stays in L2 while the panels stream by.
constexpr Index kRowBlock = 16 * kTileRows;
// Adjoint rows per step: the masked block S (kAdjointRowBlock × kPanel doubles) stays in L1.
constexpr Index kAdjointRowBlock = 128;
// Rows ahead of the cone weights fetched in the adjoint.
constexpr Index kPrefetchRows = 8;
// Adjoint panels per task (at most): each task packs and reads the X block once for all its panels.
constexpr Index kPanelsPerTask = 8;

typedef double Vec __attribute__((vector_size(kVectorBytes)));
typedef std::uint8_t ByteVec __attribute__((vector_size(kLanes)));

using Buffer = std::vector<double, Eigen::aligned_allocator<double>>;

inline Vec load(const double* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(double* p, const Vec& v) { std::memcpy(p, &v, sizeof v); }
// kLanes mask bytes as 0.0 / 1.0.
inline Vec load_mask(const std::uint8_t* p) {
  ByteVec b;
  std::memcpy(&b, p, sizeof b);
  return __builtin_convertvector(b, Vec);
}
inline double lane_sum(const Vec& v) {
  double s = v[0];
  for (int l = 1; l < kLanes; ++l) s += v[l];
  return s;
}

// What the forward epilogue needs about one panel.
struct PanelView {
  const std::uint8_t* mask;     // row 0 of the mask
  Index mask_stride;            // P
  Index first_pattern;
  int layout;  // 0 consecutive, 1 paired, 2 gathered (PatternOperator::PatternLayout)
  bool groups_consecutive;
  const Index* slot_pattern;    // kPanel
  const Index* slot_group;      // kPanel
  const double* slot_sign;      // kPanel
  Index size;
};

// The mask values of row k for a panel's slots, as kTileVectors vectors of 0.0 / 1.0.
inline void panel_mask(const PanelView& panel, Index k, Vec (&m)[kTileVectors]) {
  const std::uint8_t* row = panel.mask + k * panel.mask_stride;
  if (panel.layout == 0) {
    for (int v = 0; v < kTileVectors; ++v) m[v] = load_mask(row + panel.first_pattern + v * kLanes);
  } else if (panel.layout == 1) {
    // Bytes 0 0 1 1 2 2 ...: each pattern's byte for its + and − group.
    ByteVec pairs;
    for (int l = 0; l < kLanes; ++l) pairs[l] = std::uint8_t(l / 2);
    for (int v = 0; v < kTileVectors; ++v) {
      ByteVec b;
      std::memcpy(&b, row + panel.first_pattern + v * (kLanes / 2), sizeof b);
      m[v] = __builtin_convertvector(__builtin_shuffle(b, pairs), Vec);
    }
  } else {
    for (int v = 0; v < kTileVectors; ++v)
      for (int l = 0; l < kLanes; ++l) m[v][l] = double(row[panel.slot_pattern[v * kLanes + l]]);
  }
}

struct ForwardOutputs {
  double* yhat_partial;   // kRowBlock × c × kLanes, or null
  double* relu_partial;   // same, or null
  double* cone;           // row k0 of the n × J cone matrix, or null
  Index outputs;          // c
  Index cone_stride;      // J
};

// Rows k0 .. k0+M−1 (block rows r0 ..) times one panel, and the fused epilogue.
template <int M>
void forward_tile(const double* x, Index d, const double* panel_v, const PanelView& panel, Index output, Index k0,
                  Index r0, const ForwardOutputs& out) {
  Vec acc[M][kTileVectors];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kTileVectors; ++v) acc[i][v] = Vec{};
  for (Index t = 0; t < d; ++t) {
    Vec b[kTileVectors];
    for (int v = 0; v < kTileVectors; ++v) b[v] = load(panel_v + t * kPanel + v * kLanes);
    for (int i = 0; i < M; ++i) {
      const double a = x[i * d + t];
      for (int v = 0; v < kTileVectors; ++v) acc[i][v] += a * b[v];
    }
  }
  Vec sign[kTileVectors];
  for (int v = 0; v < kTileVectors; ++v) sign[v] = load(panel.slot_sign + v * kLanes);
  for (int i = 0; i < M; ++i) {
    const Index k = k0 + r0 + i;
    Vec m[kTileVectors];
    panel_mask(panel, k, m);
    if (out.yhat_partial) {
      double* partial = out.yhat_partial + ((r0 + i) * out.outputs + output) * kLanes;
      Vec y = load(partial);
      for (int v = 0; v < kTileVectors; ++v) y += acc[i][v] * (m[v] * sign[v]);
      store(partial, y);
    }
    if (out.relu_partial) {
      double* partial = out.relu_partial + ((r0 + i) * out.outputs + output) * kLanes;
      Vec y = load(partial);
      const Vec zero{};
      for (int v = 0; v < kTileVectors; ++v) y += sign[v] * (acc[i][v] > zero ? acc[i][v] : zero);
      store(partial, y);
    }
    if (out.cone) {
      double* row = out.cone + (r0 + i) * out.cone_stride;
      for (int v = 0; v < kTileVectors; ++v) {
        const Vec c = (m[v] + m[v] - 1.0) * acc[i][v];
        if (panel.groups_consecutive) {
          store(row + panel.slot_group[0] + v * kLanes, c);
        } else {
          for (int l = 0; l < kLanes; ++l)
            if (v * kLanes + l < panel.size) row[panel.slot_group[v * kLanes + l]] = c[l];
        }
      }
    }
  }
}

// Features t0 .. t0+M−1 of G_panel (packed d × kPanel) += X_blockᵀ S over `rows` rows; x is
// the block's features t0 .. t0+M−1 packed row by row (kTileRows doubles per row).
template <int M>
void adjoint_tile(const double* x, Index rows, const double* S, double* g) {
  Vec acc[M][kTileVectors];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kTileVectors; ++v) acc[i][v] = load(g + i * kPanel + v * kLanes);
  for (Index k = 0; k < rows; ++k) {
    Vec s[kTileVectors];
    for (int v = 0; v < kTileVectors; ++v) s[v] = load(S + k * kPanel + v * kLanes);
    for (int i = 0; i < M; ++i) {
      const double a = x[k * kTileRows + i];
      for (int v = 0; v < kTileVectors; ++v) acc[i][v] += a * s[v];
    }
  }
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < kTileVectors; ++v) store(g + i * kPanel + v * kLanes, acc[i][v]);
}

// Calls f.template operator()<M>() for the runtime M in 1..kTileRows.
template <typename F>
void dispatch_rows(Index m, F&& f) {
  switch (m) {
    case 1: f.template operator()<1>(); break;
    case 2: f.template operator()<2>(); break;
    case 3: f.template operator()<3>(); break;
    case 4: f.template operator()<4>(); break;
#if defined(__AVX512F__)
    case 5: f.template operator()<5>(); break;
    case 6: f.template operator()<6>(); break;
#endif
    default: break;
  }
}
static_assert(kTileRows == 4 || kTileRows == 6, "dispatch_rows covers 1..kTileRows");

}  // namespace

PatternOperator::PatternOperator(const Matrix& X, const Mask& mask, std::vector<Group> groups, Index outputs)
    : X_(X), mask_(mask), groups_(std::move(groups)), outputs_(outputs) {
  if (mask.rows() != X.rows()) {
    throw InvalidInput("PatternOperator: the mask has " + std::to_string(mask.rows()) + " rows but X has " +
                       std::to_string(X.rows()));
  }
  for (const Group& g : groups_) {
    if (g.pattern < 0 || g.pattern >= mask.cols() || g.output < 0 || g.output >= outputs) {
      throw InvalidInput("PatternOperator: a group refers to pattern " + std::to_string(g.pattern) +
                         " / output " + std::to_string(g.output) + ", outside the " +
                         std::to_string(mask.cols()) + " patterns and " + std::to_string(outputs) + " outputs");
    }
  }
  // Panels: the groups in (output, pattern, sign, index) order, cut at kPanel and wherever the
  // output changes. Gated and signed groups keep their order (c = 1); relu groups too, as ± pairs.
  const Index J = num_groups(), P = mask.cols();
  std::vector<Index> order(static_cast<std::size_t>(J));
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
    const Group &ga = groups_[a], &gb = groups_[b];
    if (ga.output != gb.output) return ga.output < gb.output;
    if (ga.pattern != gb.pattern) return ga.pattern < gb.pattern;
    return ga.sign > gb.sign;
  });
  for (std::size_t start = 0; start < order.size();) {
    const Group& head = groups_[order[start]];
    std::size_t end = start + 1;
    while (end < order.size() && Index(end - start) < kPanel && groups_[order[end]].output == head.output) ++end;
    Panel panel;
    panel.output = head.output;
    panel.size = Index(end - start);
    panel.first_pattern = head.pattern;
    panel.groups_consecutive = panel.size == kPanel;
    // The vector loads of a layout read mask bytes first_pattern .. first_pattern + span − 1.
    bool consecutive = panel.first_pattern + kPanel <= P;
    bool paired = panel.first_pattern + (kTileVectors - 1) * (kLanes / 2) + kLanes <= P && kLanes >= 2;
    for (Index s = 0; s < kPanel; ++s) {
      const bool real = s < panel.size;
      const Group& g = real ? groups_[order[start + s]] : head;
      slot_group_.push_back(real ? order[start + s] : -1);
      slot_pattern_.push_back(g.pattern);
      slot_sign_.push_back(real ? g.sign : 0.0);
      if (real && g.pattern != panel.first_pattern + s) consecutive = false;
      if (real && g.pattern != panel.first_pattern + s / 2) paired = false;
      if (real && order[start + s] != order[start] + s) panel.groups_consecutive = false;
    }
    panel.layout = consecutive ? PatternLayout::consecutive : paired ? PatternLayout::paired : PatternLayout::gathered;
    panels_.push_back(panel);
    start = end;
  }
}

void PatternOperator::forward(const ColMatrix& V, Matrix* yhat, Matrix* cone, Matrix* yhat_relu) const {
  const Index n = num_samples(), d = num_features(), J = num_groups(), c = outputs_;
  if (V.rows() != d || V.cols() != J) {
    throw InvalidInput("PatternOperator::forward: expected V of shape " + std::to_string(d) + "×" +
                       std::to_string(J) + ", got " + std::to_string(V.rows()) + "×" + std::to_string(V.cols()));
  }
  if (yhat) yhat->setZero(n, c);
  if (cone) cone->resize(n, J);
  if (yhat_relu) yhat_relu->setZero(n, c);
  if (!yhat && !cone && !yhat_relu) return;
  const Index panels = static_cast<Index>(panels_.size());
  if (panels == 0 || n == 0) return;

  // V packed panel by panel: d × kPanel row-major slabs, zero in the padding slots.
  Buffer packed(static_cast<std::size_t>(panels * d * kPanel), 0.0);
  for (Index p = 0; p < panels; ++p)
    for (Index s = 0; s < panels_[p].size; ++s) {
      const double* column = V.col(slot_group_[p * kPanel + s]).data();
      double* slab = packed.data() + p * d * kPanel + s;
      for (Index t = 0; t < d; ++t) slab[t * kPanel] = column[t];
    }

  const Index blocks = (n + kRowBlock - 1) / kRowBlock;
  const double flops = 2.0 * double(n) * double(d) * double(J);
#pragma omp parallel num_threads(num_threads_for(flops))
  {
    Buffer yhat_partial(yhat ? static_cast<std::size_t>(kRowBlock * c * kLanes) : 0);
    Buffer relu_partial(yhat_relu ? static_cast<std::size_t>(kRowBlock * c * kLanes) : 0);
#pragma omp for schedule(dynamic)
    for (Index b = 0; b < blocks; ++b) {
      const Index k0 = b * kRowBlock, rows = std::min(kRowBlock, n - k0);
      std::fill(yhat_partial.begin(), yhat_partial.end(), 0.0);
      std::fill(relu_partial.begin(), relu_partial.end(), 0.0);
      const ForwardOutputs out{yhat ? yhat_partial.data() : nullptr, yhat_relu ? relu_partial.data() : nullptr,
                               cone ? cone->data() + k0 * J : nullptr, c, J};
      for (Index p = 0; p < panels; ++p) {
        const Panel& panel = panels_[p];
        const PanelView view{mask_.data(),
                             mask_.cols(),
                             panel.first_pattern,
                             static_cast<int>(panel.layout),
                             panel.groups_consecutive,
                             slot_pattern_.data() + p * kPanel,
                             slot_group_.data() + p * kPanel,
                             slot_sign_.data() + p * kPanel,
                             panel.size};
        const double* panel_v = packed.data() + p * d * kPanel;
        for (Index r0 = 0; r0 < rows; r0 += kTileRows) {
          const double* x = X_.data() + (k0 + r0) * d;
          dispatch_rows(std::min<Index>(kTileRows, rows - r0), [&]<int M>() {
            forward_tile<M>(x, d, panel_v, view, panel.output, k0, r0, out);
          });
        }
      }
      for (Index r = 0; r < rows; ++r)
        for (Index o = 0; o < c; ++o) {
          if (yhat) (*yhat)(k0 + r, o) = lane_sum(load(yhat_partial.data() + (r * c + o) * kLanes));
          if (yhat_relu) (*yhat_relu)(k0 + r, o) = lane_sum(load(relu_partial.data() + (r * c + o) * kLanes));
        }
    }
  }
}

void PatternOperator::adjoint(const Matrix& R, ColMatrix& G, const Matrix* cone_weights) const {
  const Index n = num_samples(), d = num_features(), J = num_groups(), c = outputs_;
  if (R.rows() != n || R.cols() != c) {
    throw InvalidInput("PatternOperator::adjoint: expected R of shape " + std::to_string(n) + "×" +
                       std::to_string(c) + ", got " + std::to_string(R.rows()) + "×" + std::to_string(R.cols()));
  }
  if (cone_weights && (cone_weights->rows() != n || cone_weights->cols() != J)) {
    throw InvalidInput("PatternOperator::adjoint: cone weights must be " + std::to_string(n) + "×" + std::to_string(J));
  }
  G.setZero(d, J);
  const Index panels = static_cast<Index>(panels_.size());
  if (panels == 0 || n == 0 || d == 0) return;
  const Index P = mask_.cols();
  const double flops = 2.0 * double(n) * double(d) * double(J);
  const int threads = num_threads_for(flops);
  // Panels per task: up to kPanelsPerTask, fewer when that would leave threads idle. Each column
  // of G is summed over the rows in order whatever the split, so the split does not change G.
  const Index per_task = std::clamp<Index>(panels / (2 * Index{threads}), 1, kPanelsPerTask);
  const Index tasks = (panels + per_task - 1) / per_task;

#pragma omp parallel num_threads(threads)
  {
    Buffer S(static_cast<std::size_t>(kAdjointRowBlock * kPanel));
    Buffer slabs(static_cast<std::size_t>(kPanelsPerTask * d * kPanel));
    // The X block, feature tile by feature tile: [tile][row][kTileRows].
    const Index feature_tiles = (d + kTileRows - 1) / kTileRows;
    Buffer x_packed(static_cast<std::size_t>(feature_tiles * kAdjointRowBlock * kTileRows), 0.0);
#pragma omp for schedule(dynamic)
    for (Index task = 0; task < tasks; ++task) {
      const Index p0 = task * per_task, count = std::min(per_task, panels - p0);
      std::fill(slabs.begin(), slabs.end(), 0.0);
      for (Index k0 = 0; k0 < n; k0 += kAdjointRowBlock) {
        const Index rows = std::min(kAdjointRowBlock, n - k0);
        for (Index tile = 0; tile < feature_tiles; ++tile) {
          const Index t0 = tile * kTileRows, width = std::min<Index>(kTileRows, d - t0);
          double* dst = x_packed.data() + tile * kAdjointRowBlock * kTileRows;
          const double* src = X_.data() + k0 * d + t0;
          if (width == kTileRows) {
            for (Index r = 0; r < rows; ++r)
              for (Index i = 0; i < kTileRows; ++i) dst[r * kTileRows + i] = src[r * d + i];
          } else {
            for (Index r = 0; r < rows; ++r)
              for (Index i = 0; i < width; ++i) dst[r * kTileRows + i] = src[r * d + i];
          }
        }
        for (Index q = 0; q < count; ++q) {
          const Index p = p0 + q;
          const Panel& panel = panels_[p];
          const Index* slot_pattern = slot_pattern_.data() + p * kPanel;
          const Index* slot_group = slot_group_.data() + p * kPanel;
          Vec sign[kTileVectors];
          for (int v = 0; v < kTileVectors; ++v) sign[v] = load(slot_sign_.data() + p * kPanel + v * kLanes);
          const PanelView view{mask_.data(),
                               P,
                               panel.first_pattern,
                               static_cast<int>(panel.layout),
                               panel.groups_consecutive,
                               slot_pattern,
                               slot_group,
                               slot_sign_.data() + p * kPanel,
                               panel.size};
          // S = the masked residual block (and masked cone weights) for this panel.
          for (Index r = 0; r < rows; ++r) {
            const Index k = k0 + r;
            Vec m[kTileVectors];
            panel_mask(view, k, m);
            const double residual = R(k, panel.output);
            double* s_row = S.data() + r * kPanel;
            // The cone weights are a stream of n×J doubles read kPanel at a time with a stride
            // of J: fetch a few rows ahead, which the hardware prefetcher does not.
            if (cone_weights && k + kPrefetchRows < n) {
              const double* ahead = cone_weights->data() + (k + kPrefetchRows) * J + slot_group[0];
              for (Index b = 0; b < kPanel; b += 64 / Index{sizeof(double)}) __builtin_prefetch(ahead + b);
            }
            for (int v = 0; v < kTileVectors; ++v) {
              Vec s = (sign[v] * m[v]) * residual;
              if (cone_weights) {
                const double* q_row = cone_weights->data() + k * J;
                Vec w;
                if (panel.groups_consecutive) {
                  w = load(q_row + slot_group[0] + v * kLanes);
                } else {
                  for (int l = 0; l < kLanes; ++l) {
                    const Index g = slot_group[v * kLanes + l];
                    w[l] = g >= 0 ? q_row[g] : 0.0;
                  }
                }
                s += (m[v] + m[v] - 1.0) * w;
              }
              store(s_row + v * kLanes, s);
            }
          }
          // G_panel += X_blockᵀ S, kTileRows features at a time.
          double* slab = slabs.data() + q * d * kPanel;
          for (Index t0 = 0; t0 < d; t0 += kTileRows) {
            const double* x = x_packed.data() + (t0 / kTileRows) * kAdjointRowBlock * kTileRows;
            dispatch_rows(std::min<Index>(kTileRows, d - t0), [&]<int M>() {
              adjoint_tile<M>(x, rows, S.data(), slab + t0 * kPanel);
            });
          }
        }
      }
      for (Index q = 0; q < count; ++q) {
        const Index p = p0 + q;
        const double* slab = slabs.data() + q * d * kPanel;
        for (Index s = 0; s < panels_[p].size; ++s) {
          double* column = G.col(slot_group_[p * kPanel + s]).data();
          for (Index t = 0; t < d; ++t) column[t] = slab[t * kPanel + s];
        }
      }
    }
  }
}

}  // namespace cvxnn
