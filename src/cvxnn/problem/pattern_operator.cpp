// The pattern operator's kernels: register-blocked products with the mask, signs and row sums
// fused into them (research notes solvers.md §3.1: an unfused forward pass, X V then mask and
// row sum, is memory bound for small d). One templated kernel serves float64 (PatternOperator)
// and float32 (PatternOperatorF32).
//
// Layout. The groups are cut into panels of kPanel groups (one output; consecutive or paired
// patterns in the usual layouts, see detail::PanelSet). V is packed once per call, panel by
// panel, as d × kPanel row-major slabs, so one row t of a panel is kTileVectors SIMD vectors.
//
// Forward. Each task is a block of kRowBlock rows; for each panel, a tile of kTileRows rows ×
// kPanel groups of X V is accumulated in registers over t = 0..d−1 (broadcast x_kt, times the
// panel's row t), and consumed at once: ŷ_k += Σ_s sign_s m_{k,p_s} z_ks into a float64 SIMD
// partial sum per row and output, the cone values (2m − 1) z written out, relu(z) summed.
// Nothing of X V ever leaves the registers. The partial sums are reduced across lanes once per
// block.
//
// Adjoint. Each task is a run of panels over a fixed chunk of rows, G's columns for them kept as
// float64 d × kPanel slabs (the chunks' slabs are added in chunk order at the end). For each
// block of kAdjointRowBlock rows and each panel, the masked residual block S (rows × kPanel:
// sign_s m_{k,p_s} r_{k,o} [+ (2m − 1) q]) is formed in L1, then X_blockᵀ S is summed by
// register tiles of kTileRows features × kPanel groups over a packed copy of the X block, and
// added to the slabs: float32 sums run over one block of rows only, float64 across blocks.
//
// Determinism. Every output entry is summed in an order fixed by the data's shape (forward:
// panels in order, lanes in order; adjoint: rows in order within row chunks fixed by n, then the
// chunks in order), never by the thread count or the schedule, so one thread and N threads give
// bit-identical results.
//
// Part-full panels (the last of a small working set, say) run only the SIMD vectors of slots they
// fill (dispatch_vectors): the padding's products were zeros, so skipping them changes nothing.
#include "cvxnn/problem/pattern_operator.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "cvxnn/core/error.hpp"
#include "cvxnn/core/parallel.hpp"

namespace cvxnn {

namespace {

using detail::Panel;
using detail::PanelSet;
using detail::PatternLayout;

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
template <typename T>
constexpr int kLanes = kVectorBytes / int(sizeof(T));
template <typename T>
constexpr Index kPanel = Index{kTileVectors} * kLanes<T>;  // groups per panel
// Forward rows per task: the X block (kRowBlock × d) stays in L2 while the panels stream by.
constexpr Index kRowBlock = 16 * kTileRows;
// Adjoint rows per step: the masked block S (kAdjointRowBlock × kPanel) stays in L1.
constexpr Index kAdjointRowBlock = 128;
// Rows ahead of the cone weights fetched in the adjoint.
constexpr Index kPrefetchRows = 8;
// Adjoint panels per task (at most): each task packs and reads the X block once for all its panels.
constexpr Index kPanelsPerTask = 8;
// Adjoint row chunks: every kAdjointChunkRows rows (at most kAdjointChunks chunks) are a task of
// their own whose partial sums are added in chunk order afterwards. The split depends on n only,
// never on the thread count, so the sums do not either; it gives the threads work when the panels
// are fewer than the threads (a working set's first rounds: 16 or 64 groups are one float32
// panel) or do not divide among them evenly (three panels on two threads).
constexpr Index kAdjointChunkRows = 2048;
constexpr Index kAdjointChunks = 16;

typedef double VecD __attribute__((vector_size(kVectorBytes)));
template <typename T>
struct Simd;
template <>
struct Simd<double> {
  typedef double Vec __attribute__((vector_size(kVectorBytes)));
  typedef std::uint8_t Bytes __attribute__((vector_size(kVectorBytes / 8)));
};
template <>
struct Simd<float> {
  typedef float Vec __attribute__((vector_size(kVectorBytes)));
  typedef float Half __attribute__((vector_size(kVectorBytes / 2)));
  typedef std::uint8_t Bytes __attribute__((vector_size(kVectorBytes / 4)));
};
template <typename T>
using Vec = typename Simd<T>::Vec;

template <typename T>
using Buffer = std::vector<T, Eigen::aligned_allocator<T>>;
template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename V, typename T>
inline void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
inline Vec<T> broadcast(double value) {
  return Vec<T>{} + T(value);
}

// partial[0 .. kLanes<T>) += p, in float64.
template <typename T>
inline void add_wide(double* partial, const Vec<T>& p) {
  if constexpr (sizeof(T) == sizeof(double)) {
    store(partial, load<VecD>(partial) + p);
  } else {
    typename Simd<T>::Half half[2];
    std::memcpy(half, &p, sizeof half);
    for (int h = 0; h < 2; ++h) {
      double* target = partial + h * kLanes<double>;
      store(target, load<VecD>(target) + __builtin_convertvector(half[h], VecD));
    }
  }
}

// The sign of each slot of a panel, as vectors.
template <typename T>
inline void load_signs(const double* slot_sign, Vec<T> (&sign)[kTileVectors]) {
  for (int v = 0; v < kTileVectors; ++v)
    for (int l = 0; l < kLanes<T>; ++l) sign[v][l] = T(slot_sign[v * kLanes<T> + l]);
}

// What the kernels need about one panel.
struct PanelView {
  const std::uint8_t* mask;  // row 0 of the mask
  Index mask_stride;         // P
  const Panel& panel;
  const Index* slot_pattern;  // kPanel entries
  const Index* slot_group;    // kPanel entries
  const double* slot_sign;    // kPanel entries
};

PanelView view_of(const PanelSet& set, const Mask& mask, Index p) {
  return {mask.data(), mask.cols(), set.panels[static_cast<std::size_t>(p)], set.slot_pattern.data() + p * set.width,
          set.slot_group.data() + p * set.width, set.slot_sign.data() + p * set.width};
}

// Mask bytes (0 / 1) as a vector of T. GCC 12 turns __builtin_convertvector from bytes to floating
// point into one scalar conversion per lane (16 vcvtusi2ss for a float32 vector); the widening
// move and one vector conversion do it in two instructions. That conversion, once per row and
// panel, had cost the float32 forward pass as much as its products at d = 50 (n = 5000, 330
// groups: 60 GFLOP/s on one thread with it, 103–110 with the mask taken as all ones).
template <typename T>
__attribute__((always_inline)) inline Vec<T> bytes_to_vector(const typename Simd<T>::Bytes& bytes) {
#if defined(__AVX512F__) || defined(__AVX2__)
  __m128i low = _mm_setzero_si128();  // the kLanes bytes in the low lanes of an SSE register
  std::memcpy(&low, &bytes, sizeof bytes);
#endif
#if defined(__AVX512F__)
  if constexpr (sizeof(T) == sizeof(float)) {
    return (Vec<T>)_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(low));
  } else {
    return (Vec<T>)_mm512_cvtepi32_pd(_mm256_cvtepu8_epi32(low));
  }
#elif defined(__AVX2__)
  if constexpr (sizeof(T) == sizeof(float)) {
    return (Vec<T>)_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(low));
  } else {
    return (Vec<T>)_mm256_cvtepi32_pd(_mm_cvtepu8_epi32(low));
  }
#else
  return __builtin_convertvector(bytes, Vec<T>);
#endif
}

// The mask values of row k for a panel's first VN·kLanes slots, as VN vectors of 0 / 1.
template <typename T, int VN>
__attribute__((always_inline)) inline void panel_mask(const PanelView& view, Index k, Vec<T> (&m)[kTileVectors]) {
  using Bytes = typename Simd<T>::Bytes;
  constexpr int L = kLanes<T>;
  const std::uint8_t* row = view.mask + k * view.mask_stride + view.panel.first_pattern;
  if (view.panel.layout == PatternLayout::consecutive) {
    for (int v = 0; v < VN; ++v) m[v] = bytes_to_vector<T>(load<Bytes>(row + v * L));
  } else if (view.panel.layout == PatternLayout::paired) {
    // Bytes 0 0 1 1 2 2 ...: each pattern's byte for its + and − group.
    Bytes pairs;
    for (int l = 0; l < L; ++l) pairs[l] = std::uint8_t(l / 2);
    for (int v = 0; v < VN; ++v)
      m[v] = bytes_to_vector<T>(__builtin_shuffle(load<Bytes>(row + v * (L / 2)), pairs));
  } else {
    const std::uint8_t* full_row = view.mask + k * view.mask_stride;
    for (int v = 0; v < VN; ++v)
      for (int l = 0; l < L; ++l) m[v][l] = T(full_row[view.slot_pattern[v * L + l]]);
  }
}

// Whether masked_signed_sum serves a panel: float32 AVX-512 (with byte masks, BW) over a panel
// whose slots are consecutive mask columns.
template <typename T>
inline bool mask_bits_apply(const PanelView& view) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  return sizeof(T) == sizeof(float) && view.panel.layout == PatternLayout::consecutive;
#else
  (void)view;
  return false;
#endif
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// The mask bytes of row k for a consecutive float32 panel's vector v, as the bit mask of a zeroing
// product (one test instead of a widening, a conversion and a product).
__attribute__((always_inline)) inline __mmask16 panel_mask_bits(const PanelView& view, Index k, int v) {
  __m128i bytes;
  std::memcpy(&bytes, view.mask + k * view.mask_stride + view.panel.first_pattern + v * kLanes<float>, sizeof bytes);
  return _mm_test_epi8_mask(bytes, bytes);
}
#endif

// Σ_v acc[v] ∘ sign[v] ∘ mask of row k (float32, a panel mask_bits_apply serves), with the mask
// bytes as bit masks.
template <typename T, int VN>
__attribute__((always_inline)) inline Vec<T> masked_signed_sum(const PanelView& view, Index k, const Vec<T> (&acc)[VN],
                                                               const Vec<T> (&sign)[kTileVectors]) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  if constexpr (sizeof(T) == sizeof(float)) {
    __m512 sum = _mm512_setzero_ps();
    for (int v = 0; v < VN; ++v) {
      sum = _mm512_add_ps(sum, _mm512_maskz_mul_ps(panel_mask_bits(view, k, v), (__m512)acc[v], (__m512)sign[v]));
    }
    return (Vec<T>)sum;
  }
#endif
  (void)view;
  (void)k;
  (void)acc;
  (void)sign;
  return Vec<T>{};
}

// row[v L .. (v + 1) L) = sign[v] ∘ mask of row k × residual for the panel's VN vectors (a panel
// mask_bits_apply serves), the adjoint's masked residual with the mask bytes as bit masks.
template <typename T, int VN>
__attribute__((always_inline)) inline void masked_signed_row(const PanelView& view, Index k, T residual,
                                                             const Vec<T> (&sign)[kTileVectors], T* row) {
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
  if constexpr (sizeof(T) == sizeof(float)) {
    const __m512 scale = _mm512_set1_ps(residual);
    for (int v = 0; v < VN; ++v) {
      _mm512_storeu_ps(row + v * kLanes<T>, _mm512_maskz_mul_ps(panel_mask_bits(view, k, v), (__m512)sign[v], scale));
    }
    return;
  }
#endif
  (void)view;
  (void)k;
  (void)residual;
  (void)sign;
  (void)row;
}

template <typename T>
struct ForwardOutputs {
  double* yhat_partial;  // kRowBlock × c × kLanes<T>, or null
  double* relu_partial;  // same, or null
  T* cone;               // row k0 of the n × J cone matrix, or null
  Index outputs;         // c
  Index cone_stride;     // J
};

// Rows k0+r0 .. k0+r0+M−1 times one panel's first VN vectors of slots (the rest are padding),
// and the fused epilogue.
template <typename T, int M, int VN>
void forward_tile(const T* x, Index d, const T* panel_v, const PanelView& view, Index k0, Index r0,
                  const ForwardOutputs<T>& out) {
  constexpr int L = kLanes<T>;
  constexpr Index W = kPanel<T>;
  Vec<T> acc[M][VN];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < VN; ++v) acc[i][v] = Vec<T>{};
  for (Index t = 0; t < d; ++t) {
    Vec<T> b[VN];
    for (int v = 0; v < VN; ++v) b[v] = load<Vec<T>>(panel_v + t * W + v * L);
    for (int i = 0; i < M; ++i) {
      const T a = x[i * d + t];
      for (int v = 0; v < VN; ++v) acc[i][v] += a * b[v];
    }
  }
  const Panel& panel = view.panel;
  Vec<T> sign[kTileVectors];
  load_signs<T>(view.slot_sign, sign);
  const bool need_mask = out.cone || !mask_bits_apply<T>(view);  // the mask as vectors of 0 / 1
  for (int i = 0; i < M; ++i) {
    Vec<T> m[kTileVectors];
    if (need_mask) panel_mask<T, VN>(view, k0 + r0 + i, m);
    if (out.yhat_partial) {
      double* partial = out.yhat_partial + ((r0 + i) * out.outputs + panel.output) * L;
      if constexpr (sizeof(T) == sizeof(float)) {
        // The panel's VN vectors summed in float32 first, widened once: the widening adds (two
        // conversions, two loads, adds and stores per vector) had made this epilogue a third of
        // the float32 forward pass at d = 50. Its rounding is that of the products.
        Vec<T> sum;
        if (need_mask) {
          sum = acc[i][0] * (m[0] * sign[0]);
          for (int v = 1; v < VN; ++v) sum += acc[i][v] * (m[v] * sign[v]);
        } else {
          sum = masked_signed_sum<T, VN>(view, k0 + r0 + i, acc[i], sign);
        }
        add_wide<T>(partial, sum);
      } else {
        for (int v = 0; v < VN; ++v) add_wide<T>(partial, acc[i][v] * (m[v] * sign[v]));
      }
    }
    if (out.relu_partial) {
      double* partial = out.relu_partial + ((r0 + i) * out.outputs + panel.output) * L;
      const Vec<T> zero{};
      for (int v = 0; v < VN; ++v) add_wide<T>(partial, sign[v] * (acc[i][v] > zero ? acc[i][v] : zero));
    }
    if (out.cone) {
      T* row = out.cone + (r0 + i) * out.cone_stride;
      for (int v = 0; v < VN; ++v) {
        const Vec<T> c = (m[v] + m[v] - T(1)) * acc[i][v];
        if (panel.groups_consecutive) {
          store(row + view.slot_group[0] + v * L, c);
        } else {
          for (int l = 0; l < L; ++l)
            if (v * L + l < panel.size) row[view.slot_group[v * L + l]] = c[l];
        }
      }
    }
  }
}

// Features t0 .. t0+M−1 of G_panel (float64 d × kPanel slab) += X_blockᵀ S over `rows` rows; x is
// the block's features t0 .. t0+M−1 packed row by row (kTileRows values per row); the panel's
// first VN vectors of slots only (the rest are padding).
template <typename T, int M, int VN>
void adjoint_tile(const T* x, Index rows, const T* S, double* g) {
  constexpr int L = kLanes<T>;
  constexpr Index W = kPanel<T>;
  Vec<T> acc[M][VN];
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < VN; ++v) acc[i][v] = Vec<T>{};
  for (Index k = 0; k < rows; ++k) {
    Vec<T> s[VN];
    for (int v = 0; v < VN; ++v) s[v] = load<Vec<T>>(S + k * W + v * L);
    for (int i = 0; i < M; ++i) {
      const T a = x[k * kTileRows + i];
      for (int v = 0; v < VN; ++v) acc[i][v] += a * s[v];
    }
  }
  for (int i = 0; i < M; ++i)
    for (int v = 0; v < VN; ++v) add_wide<T>(g + i * W + v * L, acc[i][v]);
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
// Calls f.template operator()<VN>() with VN = the vectors of slots a panel of `size` groups fills
// (1..kTileVectors): a working set's last panel is often part full (139 groups are three float32
// panels of 64), and its padding would cost as much as real groups.
template <typename T, typename F>
void dispatch_vectors(Index size, F&& f) {
  const Index vectors = (size + kLanes<T> - 1) / kLanes<T>;
  if (vectors <= 1) {
    f.template operator()<1>();
  } else if (vectors == 2) {
    f.template operator()<2>();
  } else if (vectors == 3) {
    f.template operator()<3>();
  } else {
    f.template operator()<kTileVectors>();
  }
}
static_assert(kTileVectors == 3 || kTileVectors == 4, "dispatch_vectors covers 1..kTileVectors");

static_assert(kTileRows == 4 || kTileRows == 6, "dispatch_rows covers 1..kTileRows");

PanelSet make_panels(const std::vector<Group>& groups, Index patterns, Index width) {
  // The groups in (output, pattern, sign, index) order, cut at `width` and wherever the output
  // changes. Gated and signed groups keep their order (c = 1); relu groups too, as ± pairs.
  PanelSet set;
  set.width = width;
  std::vector<Index> order(groups.size());
  std::iota(order.begin(), order.end(), Index{0});
  std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) {
    const Group &ga = groups[static_cast<std::size_t>(a)], &gb = groups[static_cast<std::size_t>(b)];
    if (ga.output != gb.output) return ga.output < gb.output;
    if (ga.pattern != gb.pattern) return ga.pattern < gb.pattern;
    return ga.sign > gb.sign;
  });
  auto group = [&](std::size_t position) -> const Group& { return groups[static_cast<std::size_t>(order[position])]; };
  for (std::size_t start = 0; start < order.size();) {
    const Group& head = group(start);
    std::size_t end = start + 1;
    while (end < order.size() && Index(end - start) < width && group(end).output == head.output) ++end;
    Panel panel;
    panel.output = head.output;
    panel.size = Index(end - start);
    panel.first_pattern = head.pattern;
    panel.groups_consecutive = panel.size == width;
    // The vector loads of a layout must stay inside the mask's row.
    const Index lanes = width / kTileVectors;
    bool consecutive = panel.first_pattern + width <= patterns;
    bool paired = lanes >= 2 && panel.first_pattern + (kTileVectors - 1) * (lanes / 2) + lanes <= patterns;
    for (Index s = 0; s < width; ++s) {
      const bool real = s < panel.size;
      const Group& g = real ? group(start + std::size_t(s)) : head;
      set.slot_group.push_back(real ? order[start + std::size_t(s)] : -1);
      set.slot_pattern.push_back(g.pattern);
      set.slot_sign.push_back(real ? g.sign : 0.0);
      if (real && g.pattern != panel.first_pattern + s) consecutive = false;
      if (real && g.pattern != panel.first_pattern + s / 2) paired = false;
      if (real && order[start + std::size_t(s)] != order[start] + s) panel.groups_consecutive = false;
    }
    panel.layout = consecutive ? PatternLayout::consecutive : paired ? PatternLayout::paired : PatternLayout::gathered;
    set.panels.push_back(panel);
    start = end;
  }
  return set;
}

template <typename T>
struct Problem {
  const T* X;  // n×d row-major
  Index n, d, J, outputs;
  const Mask& mask;
  const PanelSet& panels;
};

template <typename T, typename VMatrix>
void forward_kernel(const Problem<T>& pb, const VMatrix& V, Matrix* yhat, RowMatrix<T>* cone, Matrix* yhat_relu) {
  constexpr int L = kLanes<T>;
  constexpr Index W = kPanel<T>;
  const Index n = pb.n, d = pb.d, J = pb.J, c = pb.outputs;
  if (yhat) yhat->setZero(n, c);
  if (cone) cone->resize(n, J);
  if (yhat_relu) yhat_relu->setZero(n, c);
  if (!yhat && !cone && !yhat_relu) return;
  const Index panels = static_cast<Index>(pb.panels.panels.size());
  if (panels == 0 || n == 0) return;

  // V packed panel by panel: d × W row-major slabs, zero in the padding slots.
  Buffer<T> packed(static_cast<std::size_t>(panels * d * W), T(0));
  for (Index p = 0; p < panels; ++p)
    for (Index s = 0; s < pb.panels.panels[static_cast<std::size_t>(p)].size; ++s) {
      const T* column = V.col(pb.panels.slot_group[static_cast<std::size_t>(p * W + s)]).data();
      T* slab = packed.data() + p * d * W + s;
      for (Index t = 0; t < d; ++t) slab[t * W] = column[t];
    }

  const Index blocks = (n + kRowBlock - 1) / kRowBlock;
  const double flops = 2.0 * double(n) * double(d) * double(J);
#pragma omp parallel num_threads(num_threads_for(flops))
  {
    Buffer<double> yhat_partial(yhat ? static_cast<std::size_t>(kRowBlock * c * L) : 0);
    Buffer<double> relu_partial(yhat_relu ? static_cast<std::size_t>(kRowBlock * c * L) : 0);
#pragma omp for schedule(dynamic)
    for (Index b = 0; b < blocks; ++b) {
      const Index k0 = b * kRowBlock, rows = std::min(kRowBlock, n - k0);
      std::fill(yhat_partial.begin(), yhat_partial.end(), 0.0);
      std::fill(relu_partial.begin(), relu_partial.end(), 0.0);
      const ForwardOutputs<T> out{yhat ? yhat_partial.data() : nullptr, yhat_relu ? relu_partial.data() : nullptr,
                                  cone ? cone->data() + k0 * J : nullptr, c, J};
      for (Index p = 0; p < panels; ++p) {
        const PanelView view = view_of(pb.panels, pb.mask, p);
        const T* panel_v = packed.data() + p * d * W;
        dispatch_vectors<T>(view.panel.size, [&]<int VN>() {
          for (Index r0 = 0; r0 < rows; r0 += kTileRows) {
            const T* x = pb.X + (k0 + r0) * d;
            dispatch_rows(std::min<Index>(kTileRows, rows - r0),
                          [&]<int M>() { forward_tile<T, M, VN>(x, d, panel_v, view, k0, r0, out); });
          }
        });
      }
      auto lane_sum = [](const double* partial) {
        // Pairwise: (p0 + p1) + (p2 + p3), ... as a SIMD horizontal reduction would.
        double level[L];
        for (int l = 0; l < L; ++l) level[l] = partial[l];
        for (int width = L / 2; width >= 1; width /= 2)
          for (int l = 0; l < width; ++l) level[l] = level[2 * l] + level[2 * l + 1];
        return level[0];
      };
      for (Index r = 0; r < rows; ++r)
        for (Index o = 0; o < c; ++o) {
          if (yhat) (*yhat)(k0 + r, o) = lane_sum(yhat_partial.data() + (r * c + o) * L);
          if (yhat_relu) (*yhat_relu)(k0 + r, o) = lane_sum(relu_partial.data() + (r * c + o) * L);
        }
    }
  }
}

template <typename T>
void adjoint_kernel(const Problem<T>& pb, const Matrix& R, ColMatrix& G, const RowMatrix<T>* cone_weights) {
  constexpr int L = kLanes<T>;
  constexpr Index W = kPanel<T>;
  const Index n = pb.n, d = pb.d, J = pb.J;
  G.setZero(d, J);
  const Index panels = static_cast<Index>(pb.panels.panels.size());
  if (panels == 0 || n == 0 || d == 0) return;
  const double flops = 2.0 * double(n) * double(d) * double(J);
  const int threads = num_threads_for(flops);
  // Row chunks (a function of n alone, see kAdjointChunkRows) times groups of panels make the
  // tasks. Panels per task: as many as the chunks leave room for, since every task packs its X
  // rows block by block again (two panel groups per thread cost 30% of the adjoint at n = 50000,
  // d = 100 and 192 patterns, a working set's size: 44 → 64 GFLOP/s on 2 threads). A column of G
  // is summed over the rows in order within each chunk and over the chunks in order, whatever
  // the panel grouping, so the grouping does not change G.
  const Index chunks = std::clamp<Index>(n / kAdjointChunkRows, 1, kAdjointChunks);
  const Index groups_wanted = (Index{threads} + chunks - 1) / chunks;
  const Index per_task = std::clamp<Index>((panels + groups_wanted - 1) / groups_wanted, 1, kPanelsPerTask);
  const Index panel_groups = (panels + per_task - 1) / per_task;
  const Index tasks = panel_groups * chunks;
  const Index feature_tiles = (d + kTileRows - 1) / kTileRows;
  // Partial sums, task by task: [panel group][chunk][panel of the group][d × W slab]; each task
  // zeroes its own slabs.
  const Index slab_size = d * W;
  Buffer<double> partials(static_cast<std::size_t>(tasks * per_task * slab_size));

#pragma omp parallel num_threads(threads)
  {
    Buffer<T> S(static_cast<std::size_t>(kAdjointRowBlock * W));
    // The X block, feature tile by feature tile: [tile][row][kTileRows].
    Buffer<T> x_packed(static_cast<std::size_t>(feature_tiles * kAdjointRowBlock * kTileRows), T(0));
#pragma omp for schedule(dynamic)
    for (Index task = 0; task < tasks; ++task) {
      const Index group = task / chunks, chunk = task % chunks;
      const Index p0 = group * per_task, count = std::min(per_task, panels - p0);
      const Index row_begin = n * chunk / chunks, row_end = n * (chunk + 1) / chunks;
      double* slabs = partials.data() + task * per_task * slab_size;
      std::fill(slabs, slabs + per_task * slab_size, 0.0);
      for (Index k0 = row_begin; k0 < row_end; k0 += kAdjointRowBlock) {
        const Index rows = std::min(kAdjointRowBlock, row_end - k0);
        for (Index tile = 0; tile < feature_tiles; ++tile) {
          const Index t0 = tile * kTileRows, width = std::min<Index>(kTileRows, d - t0);
          T* dst = x_packed.data() + tile * kAdjointRowBlock * kTileRows;
          const T* src = pb.X + k0 * d + t0;
          if (width == kTileRows) {
            for (Index r = 0; r < rows; ++r)
              for (Index i = 0; i < kTileRows; ++i) dst[r * kTileRows + i] = src[r * d + i];
          } else {
            for (Index r = 0; r < rows; ++r)
              for (Index i = 0; i < width; ++i) dst[r * kTileRows + i] = src[r * d + i];
          }
        }
        for (Index q = 0; q < count; ++q) {
          const PanelView view = view_of(pb.panels, pb.mask, p0 + q);
          dispatch_vectors<T>(view.panel.size, [&]<int VN>() {
            const Panel& panel = view.panel;
            Vec<T> sign[kTileVectors];
            load_signs<T>(view.slot_sign, sign);
            // S = the masked residual block (and masked cone weights) for this panel.
            if (!cone_weights && mask_bits_apply<T>(view)) {
              for (Index r = 0; r < rows; ++r) {
                masked_signed_row<T, VN>(view, k0 + r, T(R(k0 + r, panel.output)), sign, S.data() + r * W);
              }
            } else {
              for (Index r = 0; r < rows; ++r) {
                const Index k = k0 + r;
                Vec<T> m[kTileVectors];
                panel_mask<T, VN>(view, k, m);
                const T residual = T(R(k, panel.output));
                T* s_row = S.data() + r * W;
                const T* q_row = cone_weights ? cone_weights->data() + k * J : nullptr;
                // The cone weights are a stream of n×J values read W at a time with a stride of J:
                // fetch a few rows ahead, which the hardware prefetcher does not.
                if (q_row && k + kPrefetchRows < n) {
                  const T* ahead = q_row + kPrefetchRows * J + view.slot_group[0];
                  for (Index b = 0; b < W; b += 64 / Index{sizeof(T)}) __builtin_prefetch(ahead + b);
                }
                for (int v = 0; v < VN; ++v) {
                  Vec<T> s = (sign[v] * m[v]) * residual;
                  if (q_row) {
                    Vec<T> w;
                    if (panel.groups_consecutive) {
                      w = load<Vec<T>>(q_row + view.slot_group[0] + v * L);
                    } else {
                      for (int l = 0; l < L; ++l) {
                        const Index g = view.slot_group[v * L + l];
                        w[l] = g >= 0 ? q_row[g] : T(0);
                      }
                    }
                    s += (m[v] + m[v] - T(1)) * w;
                  }
                  store(s_row + v * L, s);
                }
              }
            }
            // G_panel += X_blockᵀ S, kTileRows features at a time.
            double* slab = slabs + q * slab_size;
            for (Index t0 = 0; t0 < d; t0 += kTileRows) {
              const T* x = x_packed.data() + (t0 / kTileRows) * kAdjointRowBlock * kTileRows;
              dispatch_rows(std::min<Index>(kTileRows, d - t0),
                            [&]<int M>() { adjoint_tile<T, M, VN>(x, rows, S.data(), slab + t0 * W); });
            }
          });
        }
      }
    }
  }
  // G's columns: the chunks' partial sums, in chunk order.
  for (Index p = 0; p < panels; ++p) {
    const Index group = p / per_task, q = p % per_task;
    for (Index s = 0; s < pb.panels.panels[static_cast<std::size_t>(p)].size; ++s) {
      double* column = G.col(pb.panels.slot_group[static_cast<std::size_t>(p * W + s)]).data();
      for (Index chunk = 0; chunk < chunks; ++chunk) {
        const double* slab = partials.data() + ((group * chunks + chunk) * per_task + q) * slab_size;
        for (Index t = 0; t < d; ++t) column[t] += slab[t * W + s];
      }
    }
  }
}

void check_forward_shape(const char* where, Index d, Index J, Index rows, Index cols) {
  if (rows != d || cols != J) {
    throw InvalidInput(std::string(where) + ": expected V of shape " + std::to_string(d) + "×" + std::to_string(J) +
                       ", got " + std::to_string(rows) + "×" + std::to_string(cols));
  }
}

void check_adjoint_shapes(const char* where, Index n, Index c, Index J, Index r_rows, Index r_cols, bool has_q,
                          Index q_rows, Index q_cols) {
  if (r_rows != n || r_cols != c) {
    throw InvalidInput(std::string(where) + ": expected R of shape " + std::to_string(n) + "×" + std::to_string(c) +
                       ", got " + std::to_string(r_rows) + "×" + std::to_string(r_cols));
  }
  if (has_q && (q_rows != n || q_cols != J)) {
    throw InvalidInput(std::string(where) + ": cone weights must be " + std::to_string(n) + "×" + std::to_string(J) +
                       ", got " + std::to_string(q_rows) + "×" + std::to_string(q_cols));
  }
}

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
  panels_ = make_panels(groups_, mask.cols(), kPanel<double>);
}

void PatternOperator::forward(const ColMatrix& V, Matrix* yhat, Matrix* cone, Matrix* yhat_relu) const {
  check_forward_shape("PatternOperator::forward", num_features(), num_groups(), V.rows(), V.cols());
  const Problem<double> pb{X_.data(), num_samples(), num_features(), num_groups(), outputs_, mask_, panels_};
  forward_kernel(pb, V, yhat, cone, yhat_relu);
}

void PatternOperator::adjoint(const Matrix& R, ColMatrix& G, const Matrix* cone_weights) const {
  check_adjoint_shapes("PatternOperator::adjoint", num_samples(), outputs_, num_groups(), R.rows(), R.cols(),
                       cone_weights != nullptr, cone_weights ? cone_weights->rows() : 0,
                       cone_weights ? cone_weights->cols() : 0);
  const Problem<double> pb{X_.data(), num_samples(), num_features(), num_groups(), outputs_, mask_, panels_};
  adjoint_kernel(pb, R, G, cone_weights);
}

PatternOperatorF32::PatternOperatorF32(const PatternOperator& op)
    : op_(op), X_(op.X().cast<float>()), panels_(make_panels(op.groups(), op.mask().cols(), kPanel<float>)) {}

void PatternOperatorF32::forward(const Eigen::MatrixXf& V, Matrix* yhat, MatrixF* cone, Matrix* yhat_relu) const {
  check_forward_shape("PatternOperatorF32::forward", op_.num_features(), op_.num_groups(), V.rows(), V.cols());
  const Problem<float> pb{X_.data(),         op_.num_samples(), op_.num_features(), op_.num_groups(),
                          op_.num_outputs(), op_.mask(),        panels_};
  forward_kernel(pb, V, yhat, cone, yhat_relu);
}

void PatternOperatorF32::adjoint(const Matrix& R, ColMatrix& G, const MatrixF* cone_weights) const {
  check_adjoint_shapes("PatternOperatorF32::adjoint", op_.num_samples(), op_.num_outputs(), op_.num_groups(),
                       R.rows(), R.cols(), cone_weights != nullptr, cone_weights ? cone_weights->rows() : 0,
                       cone_weights ? cone_weights->cols() : 0);
  const Problem<float> pb{X_.data(),         op_.num_samples(), op_.num_features(), op_.num_groups(),
                          op_.num_outputs(), op_.mask(),        panels_};
  adjoint_kernel(pb, R, G, cone_weights);
}

}  // namespace cvxnn
