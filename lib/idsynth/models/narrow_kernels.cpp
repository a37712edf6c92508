// Fused CPU kernels for a pre-norm Transformer block over narrow tokens (TabSyn's VAE: 4-wide
// tokens, one head, a 128-wide feed-forward layer). Loaded by idsynth/models/narrow_kernels.py,
// which holds the autograd wrappers and the fallback when no compiler is present.
//
// Why: with 4-wide tokens every PyTorch op of the block is a matmul with an inner size of 4 (far
// from the machine's rate) or an element-wise pass over the tokens (bound by memory), and the
// attention kernels are built for heads of 64 and more. Here each half of the block is one pass:
//
// ffn_half_forward   x (N, D), ln_w, ln_b (D), w1 (H, D), b1 (H), w2 (D, H), b2 (D), eps
//                    -> y = x + relu(LN(x) w1^T + b1) w2^T + b2                      (N, D)
// ffn_half_backward  x, ln_w, ln_b, w1, b1, w2, b2, gy, eps -> gx, g ln_w, g ln_b, gw1, gb1, gw2, gb2
// attn_half_forward  x (B, T, D), ln_w, ln_b (D), w_qkv (3 D, D), b_qkv (3 D), eps
//                    -> y = x + softmax(q k^T / sqrt(D)) v with q|k|v = LN(x) w_qkv^T + b_qkv,
//                       top (B, T) (each query's largest score, in bits: base-2 units) and
//                       inv (B, T) (1 / its softmax's sum of exp(score - top))
// attn_half_backward x, y, top, inv, ln_w, ln_b, w_qkv, b_qkv, gy, eps (the attention's output is
//                    y - x: the forward pass writes no copy of it)
//                    -> gx, g ln_w, g ln_b, g w_qkv, g b_qkv
//
// Tokens sit in vector lanes (LANES floats: one register, 16 with AVX-512, 8 with AVX) and the token
// width D is a compile-time constant (1-8; the wrappers take PyTorch's path for wider tokens), so
// the per-token arrays below are registers, not memory.
// * Feed-forward forward: tiles of 32 tokens, transposed to (32 / LANES lane vectors) x D; the 128-wide
//   hidden activation is computed one unit at a time and never leaves the registers.
// * Feed-forward backward: blocks of 256 tokens with the hidden units outer, so each unit's weight
//   gradients are summed in registers over the block and touch memory once per block; the hidden
//   activation is recomputed (nothing of it is stored).
// * Attention: LANES batch rows at a time, one per lane (gathered and scattered), so every loop
//   over queries, keys and features is scalar and no T or D leaves a remainder. The forward pass keeps each query's
//   largest score and inverse softmax sum; the backward pass recomputes LayerNorm, q, k, v and
//   the probabilities from them.
// Weight gradients are summed per lane over a fixed chunk of tokens and the chunks added in
// order: same inputs and thread count, same bits.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#if defined(__SSE__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

// 16 floats: one AVX-512 register. Without AVX-512, one AVX register (8): GCC lowers a 16-float
// vector on AVX2 to stack spills and per-lane scalar code (measured on a Zen 3 core: the
// feed-forward forward 1.9 GFLOP/s, ~40x slower than its 8-float build), so the lanes follow the ISA.
#if defined(__AVX512F__)
constexpr int64_t LANES = 16;
#elif defined(__AVX__)
constexpr int64_t LANES = 8;
#else
constexpr int64_t LANES = 4;
#endif
typedef float lanes_t __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t ilanes_t __attribute__((vector_size(LANES * sizeof(int32_t))));
constexpr int MAX_D = 8;

inline lanes_t splat(float value) { return lanes_t{} + value; }

inline float lane_sum(lanes_t v) {
  float s = 0.f;
  for (int64_t l = 0; l < LANES; ++l) s += v[l];
  return s;
}

// the sum and the largest of the 16 lanes as a tree (a few shuffles) rather than a chain of 15 adds:
// for sums taken per row (the chain's latency, ~60 cycles, would dominate); a different order of
// addition than lane_sum's
inline float lane_sum_tree(lanes_t v) {
#if defined(__AVX512F__)
  return _mm512_reduce_add_ps(reinterpret_cast<__m512>(v));
#else
  for (int64_t half = LANES / 2; half >= 1; half /= 2)
    for (int64_t l = 0; l < half; ++l) v[l] += v[l + half];
  return v[0];
#endif
}

inline float lane_max(lanes_t v) {
#if defined(__AVX512F__)
  return _mm512_reduce_max_ps(reinterpret_cast<__m512>(v));
#else
  float m = v[0];
  for (int64_t l = 1; l < LANES; ++l) m = std::max(m, v[l]);
  return m;
#endif
}

inline lanes_t max_lanes(lanes_t a, lanes_t b) {
#if defined(__AVX512F__)
  return reinterpret_cast<lanes_t>(_mm512_max_ps(reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b)));
#else
  return a > b ? a : b;
#endif
}

inline lanes_t relu(lanes_t v) {
#if defined(__AVX512F__)
  return reinterpret_cast<lanes_t>(_mm512_max_ps(reinterpret_cast<__m512>(v), _mm512_setzero_ps()));
#else
  return v > 0.f ? v : splat(0.f);
#endif
}

// 1 / sqrt(v) per lane
inline lanes_t rsqrt_lanes(lanes_t v) {
#if defined(__AVX512F__)
  return reinterpret_cast<lanes_t>(_mm512_div_ps(_mm512_set1_ps(1.f), _mm512_sqrt_ps(reinterpret_cast<__m512>(v))));
#else
  for (int64_t l = 0; l < LANES; ++l) v[l] = 1.f / std::sqrt(v[l]);
  return v;
#endif
}

// 2^x per lane = 2^n 2^f with n = round(x), |f| <= 1/2, and 2^f by a degree-5 polynomial fitted
// to minimise the largest relative error on [-1/2, 1/2] (7.5e-8 before rounding, about one float
// ulp).
inline lanes_t exp2_fraction(lanes_t f) {
  lanes_t p = splat(1.3276471519100062e-3f);
  p = p * f + 9.675541330693612e-3f;
  p = p * f + 5.550713274962862e-2f;
  p = p * f + 2.4022119723933938e-1f;
  p = p * f + 6.931469670638644e-1f;
  return p * f + 1.0000000716546555f;
}

inline lanes_t exp2_lanes(lanes_t t) {
#if defined(__AVX512F__)
  // round to nearest, then scale by 2^n in one instruction (underflows to 0, never to garbage)
  const __m512 n = _mm512_roundscale_ps(reinterpret_cast<__m512>(t), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const lanes_t p = exp2_fraction(t - reinterpret_cast<lanes_t>(n));
  return reinterpret_cast<lanes_t>(_mm512_scalef_ps(reinterpret_cast<__m512>(p), n));
#else
  const lanes_t c = t < -126.f ? splat(-126.f) : (t > 127.f ? splat(127.f) : t);
  const ilanes_t n = __builtin_convertvector(c + (c >= 0.f ? splat(0.5f) : splat(-0.5f)), ilanes_t);
  lanes_t p = exp2_fraction(c - __builtin_convertvector(n, lanes_t));
  ilanes_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += n << 23;  // times 2^n, n in [-126, 127]
  std::memcpy(&p, &bits, sizeof p);
  return p;
#endif
}

constexpr float LOG2_E = 1.44269504088896341f, LN_2 = 0.693147180559945309f;

inline lanes_t exp_lanes(lanes_t x) { return exp2_lanes(x * LOG2_E); }

// Flushes denormal results and inputs to zero on this thread while in scope (the softmax's far
// tails underflow; each denormal would cost a microcode assist). Values below 1.2e-38 become 0.
struct FlushDenormals {
#if defined(__SSE__)
  unsigned int saved = _mm_getcsr();
  FlushDenormals() { _mm_setcsr(saved | 0x8040u); }  // FTZ | DAZ
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

void check_rows(const at::Tensor& t, const char* name, int64_t dim, at::ScalarType type) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU");
  TORCH_CHECK(t.scalar_type() == type, name, " must be ", type, ", got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, name, " must have ", dim, " dimensions, got ", t.dim());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

void check_float(const at::Tensor& t, const char* name, int64_t dim) { check_rows(t, name, dim, at::kFloat); }

// Splits [0, items) into `chunks` fixed ranges (the same for a given thread count).
inline int64_t chunk_start(int64_t c, int64_t chunks, int64_t items) { return c * items / chunks; }

int64_t n_chunks(int64_t items) { return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), items)); }

// Per-chunk accumulators (lane vectors or floats) -> their sums, chunks in order.
inline float lane_total(lanes_t v) { return lane_sum(v); }
inline float lane_total(float v) { return v; }

template <typename T>
std::vector<float> reduce_chunks(const std::vector<std::vector<T>>& partial, int64_t size) {
  std::vector<float> total(size, 0.f);
  for (const auto& chunk : partial)
    for (int64_t p = 0; p < size; ++p) total[p] += lane_total(chunk[p]);
  return total;
}

at::Tensor tensor_from(const std::vector<float>& values, int64_t offset, at::IntArrayRef shape) {
  auto out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  std::memcpy(out.data_ptr<float>(), values.data() + offset, out.numel() * sizeof(float));
  return out;
}

// Calls body.template operator()<D>() for the runtime width d (1..MAX_D).
template <typename Body>
auto with_width(int64_t d, Body&& body) {
  switch (d) {
    case 1: return body.template operator()<1>();
    case 2: return body.template operator()<2>();
    case 3: return body.template operator()<3>();
    case 4: return body.template operator()<4>();
    case 5: return body.template operator()<5>();
    case 6: return body.template operator()<6>();
    case 7: return body.template operator()<7>();
    case 8: return body.template operator()<8>();
  }
  TORCH_CHECK(false, "narrow kernels: token width ", d, " is not in 1..", MAX_D);
}

// -- LayerNorm of one token per lane: D lane vectors ---------------------------------------------
template <int D>
struct LayerNormLanes {
  float w[D], b[D], eps;

  LayerNormLanes(const float* weight, const float* bias, float epsilon) : eps(epsilon) {
    for (int i = 0; i < D; ++i) w[i] = weight[i], b[i] = bias[i];
  }

  // xhat = (x - mean) * rstd, y = xhat * w + b; returns rstd
  lanes_t forward(const lanes_t* x, lanes_t* xhat, lanes_t* y) const {
    lanes_t mean = x[0];
    for (int i = 1; i < D; ++i) mean += x[i];
    mean *= 1.f / D;
    lanes_t var = splat(0.f);
    for (int i = 0; i < D; ++i) var += (x[i] - mean) * (x[i] - mean);
    const lanes_t rstd = rsqrt_lanes(var * (1.f / D) + eps);
    for (int i = 0; i < D; ++i) {
      xhat[i] = (x[i] - mean) * rstd;
      y[i] = xhat[i] * w[i] + b[i];
    }
    return rstd;
  }

  // gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * w; gw += gy * xhat, gb += gy
  void backward(const lanes_t* xhat, lanes_t rstd, const lanes_t* gy, lanes_t* gx, lanes_t* gw, lanes_t* gb) const {
    lanes_t g_mean = splat(0.f), gx_mean = splat(0.f);
    for (int i = 0; i < D; ++i) {
      const lanes_t g = gy[i] * w[i];
      g_mean += g;
      gx_mean += g * xhat[i];
      gw[i] += gy[i] * xhat[i];
      gb[i] += gy[i];
    }
    g_mean *= 1.f / D;
    gx_mean *= 1.f / D;
    for (int i = 0; i < D; ++i) gx[i] = rstd * (gy[i] * w[i] - g_mean - xhat[i] * gx_mean);
  }
};

// Lane l <-> element l * stride of an array, for lanes [0, count): one gather or scatter with
// AVX-512, else a loop; lanes at or beyond count read as 0 and are not written.
struct StridedLanes {
  int64_t stride, count;
#if defined(__AVX512F__)
  __m512i index;
  __mmask16 mask;
#endif

  StridedLanes(int64_t stride_, int64_t count_) : stride(stride_), count(std::clamp<int64_t>(count_, 0, LANES)) {
#if defined(__AVX512F__)
    index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                               _mm512_set1_epi32(static_cast<int32_t>(stride)));
    mask = static_cast<__mmask16>((1u << count) - 1);
#endif
  }

  lanes_t load(const float* src) const {
#if defined(__AVX512F__)
    return reinterpret_cast<lanes_t>(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, index, src, 4));
#else
    lanes_t v = splat(0.f);
    for (int64_t l = 0; l < count; ++l) v[l] = src[l * stride];
    return v;
#endif
  }

  void store(lanes_t v, float* dst) const {
#if defined(__AVX512F__)
    _mm512_mask_i32scatter_ps(dst, mask, index, reinterpret_cast<__m512>(v), 4);
#else
    for (int64_t l = 0; l < count; ++l) dst[l * stride] = v[l];
#endif
  }
};

// Tokens [n0, n0 + count) of a (N, D) row-major array -> V groups of D lane vectors, tile[v][i]
// lane l = token n0 + v * LANES + l, feature i; zero beyond count.
template <int D>
inline void load_tokens(const float* src, int64_t n0, int64_t count, int64_t V, lanes_t* tile) {
  for (int64_t v = 0; v < V; ++v) {
    const StridedLanes lanes(D, count - v * LANES);
    for (int i = 0; i < D; ++i) tile[v * D + i] = lanes.load(src + (n0 + v * LANES) * D + i);
  }
}

template <int D>
inline void store_tokens(const lanes_t* tile, int64_t n0, int64_t count, float* dst) {
  for (int64_t v = 0; v * LANES < count; ++v) {
    const StridedLanes lanes(D, count - v * LANES);
    for (int i = 0; i < D; ++i) lanes.store(tile[v * D + i], dst + (n0 + v * LANES) * D + i);
  }
}

// -- the feed-forward half --------------------------------------------------------------------------
template <int D>
struct FFNWeights {
  LayerNormLanes<D> norm;
  const float *w1, *b1, *b2;
  std::vector<float> w2t;  // w2 transposed, (H, D): the D weights out of hidden unit j side by side
  int64_t H;

  FFNWeights(const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w1_, const at::Tensor& b1_,
             const at::Tensor& w2, const at::Tensor& b2_, double eps)
      : norm(ln_w.data_ptr<float>(), ln_b.data_ptr<float>(), static_cast<float>(eps)),
        w1(w1_.data_ptr<float>()), b1(b1_.data_ptr<float>()), b2(b2_.data_ptr<float>()),
        w2t(w1_.size(0) * D), H(w1_.size(0)) {
    const float* W2 = w2.data_ptr<float>();
    for (int64_t j = 0; j < H; ++j)
      for (int o = 0; o < D; ++o) w2t[j * D + o] = W2[o * H + j];
  }
};

void check_ffn(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w1,
               const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2) {
  check_float(x, "x", 2); check_float(ln_w, "ln_w", 1); check_float(ln_b, "ln_b", 1);
  check_float(w1, "w1", 2); check_float(b1, "b1", 1); check_float(w2, "w2", 2); check_float(b2, "b2", 1);
  const int64_t D = x.size(1), H = w1.size(0);
  TORCH_CHECK(ln_w.size(0) == D && ln_b.size(0) == D && w1.size(1) == D && b1.size(0) == H && w2.size(0) == D &&
                  w2.size(1) == H && b2.size(0) == D,
              "ffn_half: shapes disagree (x (N, D), w1 (H, D), w2 (D, H))");
}

constexpr int64_t FWD_V = 32 / LANES;          // lane vectors per forward tile (32 tokens)
constexpr int64_t BWD_V = 256 / LANES;         // lane vectors per backward block (256 tokens)

template <int D>
at::Tensor ffn_forward(const at::Tensor& x, const FFNWeights<D>& p) {
  const int64_t N = x.size(0), H = p.H, TILE = FWD_V * LANES;
  auto y = at::empty_like(x);
  const float* X = x.data_ptr<float>();
  float* Y = y.data_ptr<float>();
  at::parallel_for(0, (N + TILE - 1) / TILE, 32, [&](int64_t t0, int64_t t1) {
    const FlushDenormals flush;
    lanes_t xt[FWD_V * D], xhat[FWD_V * D], xn[FWD_V * D], acc[FWD_V * D];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * TILE, count = std::min(TILE, N - n0);
      load_tokens<D>(X, n0, count, FWD_V, xt);
      for (int64_t v = 0; v < FWD_V; ++v) {
        p.norm.forward(&xt[v * D], &xhat[v * D], &xn[v * D]);
        for (int o = 0; o < D; ++o) acc[v * D + o] = xt[v * D + o] + p.b2[o];  // the residual
      }
      for (int64_t j = 0; j < H; ++j) {
        const float* w1 = p.w1 + j * D;
        const float* w2 = p.w2t.data() + j * D;
        for (int64_t v = 0; v < FWD_V; ++v) {
          lanes_t h = splat(p.b1[j]);
          for (int i = 0; i < D; ++i) h += w1[i] * xn[v * D + i];
          h = relu(h);
          for (int o = 0; o < D; ++o) acc[v * D + o] += w2[o] * h;
        }
      }
      store_tokens<D>(acc, n0, count, Y);
    }
  });
  return y;
}

template <int D>
std::vector<at::Tensor> ffn_backward(const at::Tensor& x, const FFNWeights<D>& p, const at::Tensor& gy) {
  const int64_t N = x.size(0), H = p.H, BLOCK = BWD_V * LANES;
  auto gx = at::empty_like(x);
  const int64_t blocks = (N + BLOCK - 1) / BLOCK, chunks = n_chunks(blocks);
  // per hidden unit j, side by side: gw1[j] (D), gw2[:, j] (D), gb1[j]; then g ln_w, g ln_b, gb2
  const int64_t per_unit = 2 * D + 1, size = H * per_unit + 3 * D;
  std::vector<std::vector<lanes_t>> partial(chunks, std::vector<lanes_t>(size, splat(0.f)));
  const float *X = x.data_ptr<float>(), *GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const FlushDenormals flush;
    std::vector<lanes_t> xt(BWD_V * D), xhat(BWD_V * D), xn(BWD_V * D), gyt(BWD_V * D), gxn(BWD_V * D),
        gxt(BWD_V * D);
    lanes_t rstd[BWD_V];
    for (int64_t c = c0; c < c1; ++c) {
      lanes_t* units = partial[c].data();
      lanes_t* g_lnw = units + H * per_unit;
      lanes_t* g_lnb = g_lnw + D;
      lanes_t* gb2 = g_lnb + D;
      for (int64_t blk = chunk_start(c, chunks, blocks); blk < chunk_start(c + 1, chunks, blocks); ++blk) {
        const int64_t n0 = blk * BLOCK, count = std::min(BLOCK, N - n0);
        const int64_t V = (count + LANES - 1) / LANES;
        load_tokens<D>(X, n0, count, V, xt.data());
        load_tokens<D>(GY, n0, count, V, gyt.data());  // padded tokens have zero gradient
        for (int64_t v = 0; v < V; ++v) rstd[v] = p.norm.forward(&xt[v * D], &xhat[v * D], &xn[v * D]);
        std::fill(gxn.begin(), gxn.end(), splat(0.f));
        for (int64_t j = 0; j < H; ++j) {
          float w1[D], w2[D];
          for (int i = 0; i < D; ++i) w1[i] = p.w1[j * D + i], w2[i] = p.w2t[j * D + i];
          lanes_t gw1[D], gw2[D], gb1 = splat(0.f);
          for (int i = 0; i < D; ++i) gw1[i] = gw2[i] = splat(0.f);
          for (int64_t v = 0; v < V; ++v) {
            const lanes_t* xnv = &xn[v * D];
            const lanes_t* gyv = &gyt[v * D];
            lanes_t pre = splat(p.b1[j]), gh = splat(0.f);
            for (int i = 0; i < D; ++i) {
              pre += w1[i] * xnv[i];
              gh += w2[i] * gyv[i];
            }
            gh = pre > 0.f ? gh : splat(0.f);  // the gradient of the pre-activation
            const lanes_t h = relu(pre);
            gb1 += gh;
            for (int i = 0; i < D; ++i) {
              gw2[i] += gyv[i] * h;
              gw1[i] += gh * xnv[i];
              gxn[v * D + i] += w1[i] * gh;
            }
          }
          lanes_t* unit = units + j * per_unit;
          for (int i = 0; i < D; ++i) unit[i] += gw1[i], unit[D + i] += gw2[i];
          unit[2 * D] += gb1;
        }
        for (int64_t v = 0; v < V; ++v) {
          p.norm.backward(&xhat[v * D], rstd[v], &gxn[v * D], &gxt[v * D], g_lnw, g_lnb);
          for (int i = 0; i < D; ++i) {
            gxt[v * D + i] += gyt[v * D + i];  // the residual
            gb2[i] += gyt[v * D + i];
          }
        }
        store_tokens<D>(gxt.data(), n0, count, GX);
      }
    }
  });
  const std::vector<float> total = reduce_chunks(partial, size);
  auto gw1 = at::empty({H, D}, x.options()), gb1 = at::empty({H}, x.options()), gw2 = at::empty({D, H}, x.options());
  float *GW1 = gw1.data_ptr<float>(), *GB1 = gb1.data_ptr<float>(), *GW2 = gw2.data_ptr<float>();
  for (int64_t j = 0; j < H; ++j) {
    for (int i = 0; i < D; ++i) GW1[j * D + i] = total[j * per_unit + i], GW2[i * H + j] = total[j * per_unit + D + i];
    GB1[j] = total[j * per_unit + 2 * D];
  }
  const int64_t tail = H * per_unit;
  return {gx, tensor_from(total, tail, {D}), tensor_from(total, tail + D, {D}), gw1, gb1, gw2,
          tensor_from(total, tail + 2 * D, {D})};
}

at::Tensor ffn_half_forward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w1,
                            const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2, double eps) {
  check_ffn(x, ln_w, ln_b, w1, b1, w2, b2);
  return with_width(x.size(1), [&]<int D>() { return ffn_forward<D>(x, FFNWeights<D>(ln_w, ln_b, w1, b1, w2, b2, eps)); });
}

std::vector<at::Tensor> ffn_half_backward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                          const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                                          const at::Tensor& b2, const at::Tensor& gy, double eps) {
  check_ffn(x, ln_w, ln_b, w1, b1, w2, b2);
  check_float(gy, "gy", 2);
  TORCH_CHECK(gy.sizes() == x.sizes(), "ffn_half_backward: gy must have x's shape");
  return with_width(x.size(1), [&]<int D>() {
    return ffn_backward<D>(x, FFNWeights<D>(ln_w, ln_b, w1, b1, w2, b2, eps), gy);
  });
}

// -- the attention half ------------------------------------------------------------------------------
// Rows [b0, b0 + count) of a (B, E) array -> E lane vectors (lane l = row b0 + l), zero-padded lanes.
inline void load_group(const float* src, int64_t b0, int64_t count, int64_t E, lanes_t* dst) {
  const StridedLanes lanes(E, count);
  for (int64_t e = 0; e < E; ++e) dst[e] = lanes.load(src + b0 * E + e);
}

inline void store_group(const lanes_t* src, int64_t b0, int64_t count, int64_t E, float* dst) {
  const StridedLanes lanes(E, count);
  for (int64_t e = 0; e < E; ++e) lanes.store(src[e], dst + b0 * E + e);
}

// Asks for rows [b0, b0 + 16) of a (B, E) array (clipped at B) to be brought into cache ahead of
// their gathers (for reading) or scatters (write = true): a group's rows are 16 strided streams,
// which the hardware prefetchers miss (measured: the attention forward 1.5 ms a call with its rows
// in cache, 1.9-2.0 ms with them in L3, 2 threads)
inline void prefetch_group(const float* src, int64_t b0, int64_t B, int64_t E, bool write = false) {
#if defined(__SSE__)
  const char* begin = reinterpret_cast<const char*>(src + std::min(b0, B) * E);
  const char* end = reinterpret_cast<const char*>(src + std::min(b0 + LANES, B) * E);
  for (const char* line = begin; line < end; line += 64)
    if (write) __builtin_prefetch(line, 1, 3);
    else _mm_prefetch(line, _MM_HINT_T0);
#endif
}

template <int D>
struct AttentionWeights {
  LayerNormLanes<D> norm;
  float w[3 * D][D], b[3 * D];
  int64_t T;
  float scale, qscale;  // 1 / sqrt(D); the same times log2(e): q carries it, so scores are in bits

  AttentionWeights(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w_qkv,
                   const at::Tensor& b_qkv, double eps)
      : norm(ln_w.data_ptr<float>(), ln_b.data_ptr<float>(), static_cast<float>(eps)), T(x.size(1)),
        scale(1.f / std::sqrt(static_cast<float>(D))), qscale(scale * LOG2_E) {
    const float *W = w_qkv.data_ptr<float>(), *Bq = b_qkv.data_ptr<float>();
    for (int r = 0; r < 3 * D; ++r) {
      b[r] = Bq[r];
      for (int e = 0; e < D; ++e) w[r][e] = W[r * D + e];
    }
  }
};

void check_attention(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w_qkv,
                     const at::Tensor& b_qkv) {
  check_float(x, "x", 3); check_float(ln_w, "ln_w", 1); check_float(ln_b, "ln_b", 1);
  check_float(w_qkv, "w_qkv", 2); check_float(b_qkv, "b_qkv", 1);
  const int64_t D = x.size(2);
  TORCH_CHECK(ln_w.size(0) == D && ln_b.size(0) == D && w_qkv.size(0) == 3 * D && w_qkv.size(1) == D &&
                  b_qkv.size(0) == 3 * D,
              "attn_half: shapes disagree (x (B, T, D), w_qkv (3 D, D))");
}

// Per group of 16 rows: LayerNorm of every token (xhat, rstd kept for the backward pass) and its
// q (times the softmax's scale and log2(e), so that exp(score) = 2^<q, k>), k, v.
template <int D>
struct GroupState {
  std::vector<lanes_t> x, xhat, xn, q, k, v, rstd;
  explicit GroupState(int64_t T) : x(T * D), xhat(T * D), xn(T * D), q(T * D), k(T * D), v(T * D), rstd(T) {}

  void project(const AttentionWeights<D>& a) {
    for (int64_t t = 0; t < a.T; ++t) {
      rstd[t] = a.norm.forward(&x[t * D], &xhat[t * D], &xn[t * D]);
      lanes_t xnt[D];
      for (int e = 0; e < D; ++e) xnt[e] = xn[t * D + e];
      for (int r = 0; r < 3 * D; ++r) {
        lanes_t acc = splat(a.b[r]);
        for (int e = 0; e < D; ++e) acc += a.w[r][e] * xnt[e];
        if (r < D) q[t * D + r] = acc * a.qscale;
        else if (r < 2 * D) k[t * D + r - D] = acc;
        else v[t * D + r - 2 * D] = acc;
      }
    }
  }

  // the scaled score <q[t], k[u]> log2(e) / sqrt(D), in bits
  lanes_t score(const lanes_t* qt, int64_t u) const {
    lanes_t s = qt[0] * k[u * D];
    for (int i = 1; i < D; ++i) s += qt[i] * k[u * D + i];
    return s;
  }
};

template <int D>
std::vector<at::Tensor> attn_forward(const at::Tensor& x, const AttentionWeights<D>& a) {
  const int64_t B = x.size(0), T = a.T, TD = T * D;
  auto y = at::empty_like(x);
  auto top = at::empty({B, T}, x.options()), inv = at::empty({B, T}, x.options());
  const float* X = x.data_ptr<float>();
  float *Y = y.data_ptr<float>(), *M = top.data_ptr<float>(), *I = inv.data_ptr<float>();
  at::parallel_for(0, (B + LANES - 1) / LANES, 4, [&](int64_t g0, int64_t g1) {
    const FlushDenormals flush;
    GroupState<D> s(T);
    std::vector<lanes_t> yg(TD), mg(T), ig(T), scores(T);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
      prefetch_group(X, b0 + LANES, B, TD);  // the next group's rows, while this one computes
      prefetch_group(Y, b0 + LANES, B, TD, true);
      load_group(X, b0, count, TD, s.x.data());
      s.project(a);
      for (int64_t t = 0; t < T; ++t) {
        lanes_t qt[D];
        for (int i = 0; i < D; ++i) qt[i] = s.q[t * D + i];
        lanes_t m_even = splat(-3.0e38f), m_odd = m_even;  // finite: built with -ffast-math; two
        for (int64_t u = 0; u < T; u += 2) {                // chains, so the maximum is not one
          scores[u] = s.score(qt, u);                        // long dependency
          m_even = max_lanes(m_even, scores[u]);
          if (u + 1 == T) break;
          scores[u + 1] = s.score(qt, u + 1);
          m_odd = max_lanes(m_odd, scores[u + 1]);
        }
        const lanes_t m = max_lanes(m_even, m_odd);
        lanes_t sum = splat(0.f), out[D];
        for (int i = 0; i < D; ++i) out[i] = splat(0.f);
        for (int64_t u = 0; u < T; ++u) {
          const lanes_t e = exp2_lanes(scores[u] - m);
          sum += e;
          for (int i = 0; i < D; ++i) out[i] += e * s.v[u * D + i];
        }
        const lanes_t r = 1.f / sum;
        mg[t] = m;
        ig[t] = r;
        for (int i = 0; i < D; ++i) yg[t * D + i] = s.x[t * D + i] + out[i] * r;  // the residual
      }
      store_group(yg.data(), b0, count, TD, Y);
      store_group(mg.data(), b0, count, T, M);
      store_group(ig.data(), b0, count, T, I);
    }
  });
  return {y, top, inv};
}

// Queries [t0, t0 + Q) of a group against every key: d loss / d q of each (into gq, times the
// softmax's scale) and their shares of d loss / d k and d loss / d v (added to gk, gv: query t0
// first, then t0 + 1, ..., the order of one query at a time). Q queries per sweep over the keys
// share each key's loads and each gk / gv update.
template <int D, int Q>
inline void attn_backward_queries(const GroupState<D>& s, int64_t T, int64_t t0, const lanes_t* og, const lanes_t* gog,
                                  const lanes_t* mg, const lanes_t* ig, lanes_t* gk, lanes_t* gv, lanes_t* gq, float scale) {
  lanes_t qt[Q][D], got[Q][D], gqt[Q][D], delta[Q], m[Q], r[Q];
  for (int q = 0; q < Q; ++q) {
    const int64_t t = t0 + q;
    delta[q] = splat(0.f);  // sum_i go[t][i] o[t][i]
    for (int i = 0; i < D; ++i) {
      qt[q][i] = s.q[t * D + i];
      got[q][i] = gog[t * D + i];
      gqt[q][i] = splat(0.f);
      delta[q] += got[q][i] * og[t * D + i];
    }
    m[q] = mg[t], r[q] = ig[t];
  }
  for (int64_t u = 0; u < T; ++u) {
    lanes_t gvu[D], gku[D];
    for (int i = 0; i < D; ++i) gvu[i] = gv[u * D + i], gku[i] = gk[u * D + i];
    for (int q = 0; q < Q; ++q) {
      const lanes_t pu = exp2_lanes(s.score(qt[q], u) - m[q]) * r[q];
      lanes_t dp = got[q][0] * s.v[u * D];  // d loss / d p[u] = <go[t], v[u]>
      for (int i = 1; i < D; ++i) dp += got[q][i] * s.v[u * D + i];
      const lanes_t ds = pu * (dp - delta[q]);  // d loss / d score[u]
      for (int i = 0; i < D; ++i) {
        gvu[i] += pu * got[q][i];
        gqt[q][i] += ds * s.k[u * D + i];
        gku[i] += ds * qt[q][i];  // qt carries the scale and log2(e): times ln 2 later
      }
    }
    for (int i = 0; i < D; ++i) gv[u * D + i] = gvu[i], gk[u * D + i] = gku[i];
  }
  for (int q = 0; q < Q; ++q)
    for (int i = 0; i < D; ++i) gq[(t0 + q) * D + i] = gqt[q][i] * scale;
}

template <int D>
std::vector<at::Tensor> attn_backward(const at::Tensor& x, const at::Tensor& y, const at::Tensor& top,
                                      const at::Tensor& inv, const AttentionWeights<D>& a, const at::Tensor& gy) {
  const int64_t B = x.size(0), T = a.T, TD = T * D;
  auto gx = at::empty_like(x);
  const int64_t groups = (B + LANES - 1) / LANES, chunks = n_chunks(groups);
  // gradients, in this order: ln_w (D), ln_b (D), w_qkv (3 D, D), b_qkv (3 D)
  const int64_t size = 2 * D + 3 * D * D + 3 * D;
  std::vector<std::vector<lanes_t>> partial(chunks, std::vector<lanes_t>(size, splat(0.f)));
  const float *X = x.data_ptr<float>(), *Y = y.data_ptr<float>(), *M = top.data_ptr<float>();
  const float *I = inv.data_ptr<float>(), *GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const FlushDenormals flush;
    GroupState<D> s(T);
    std::vector<lanes_t> og(TD), gog(TD), mg(T), ig(T), gq(TD), gk(TD), gv(TD), gxg(TD);
    for (int64_t c = c0; c < c1; ++c) {
      lanes_t* g_lnw = partial[c].data();
      lanes_t* g_lnb = g_lnw + D;
      lanes_t* g_w = g_lnb + D;
      lanes_t* g_b = g_w + 3 * D * D;
      for (int64_t g = chunk_start(c, chunks, groups); g < chunk_start(c + 1, chunks, groups); ++g) {
        const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
        prefetch_group(X, b0 + LANES, B, TD);  // the next group's rows, while this one computes
        prefetch_group(Y, b0 + LANES, B, TD);
        prefetch_group(GY, b0 + LANES, B, TD);
        prefetch_group(GX, b0 + LANES, B, TD, true);
        load_group(X, b0, count, TD, s.x.data());
        load_group(Y, b0, count, TD, og.data());
        for (int64_t e = 0; e < TD; ++e) og[e] -= s.x[e];  // the attention's output, y - x
        load_group(GY, b0, count, TD, gog.data());  // padded rows have zero gradient
        load_group(M, b0, count, T, mg.data());
        load_group(I, b0, count, T, ig.data());
        s.project(a);
        std::fill(gk.begin(), gk.end(), splat(0.f));
        std::fill(gv.begin(), gv.end(), splat(0.f));
        // two queries per sweep over the keys: at CIC-IDS-2017's 79 tokens the keys' k, v and their
        // gradients outgrow L1, and pairs halve that traffic (measured: 22.9 -> 16.5 ms a call on
        // one core; the same at NSL-KDD's 42); the same sums in the same order, so the same bits
        int64_t t = 0;
        for (; t + 2 <= T; t += 2)
          attn_backward_queries<D, 2>(s, T, t, og.data(), gog.data(), mg.data(), ig.data(), gk.data(), gv.data(), gq.data(),
                                      a.scale);
        for (; t < T; ++t)
          attn_backward_queries<D, 1>(s, T, t, og.data(), gog.data(), mg.data(), ig.data(), gk.data(), gv.data(), gq.data(),
                                      a.scale);
        // through the projection and the LayerNorm, per token
        for (int64_t t = 0; t < T; ++t) {
          lanes_t gxn[D];
          for (int e = 0; e < D; ++e) gxn[e] = splat(0.f);
          for (int r = 0; r < 3 * D; ++r) {
            const lanes_t grad = r < D ? gq[t * D + r] : r < 2 * D ? gk[t * D + r - D] * LN_2 : gv[t * D + r - 2 * D];
            g_b[r] += grad;
            for (int e = 0; e < D; ++e) {
              g_w[r * D + e] += grad * s.xn[t * D + e];
              gxn[e] += a.w[r][e] * grad;
            }
          }
          a.norm.backward(&s.xhat[t * D], s.rstd[t], gxn, &gxg[t * D], g_lnw, g_lnb);
          for (int i = 0; i < D; ++i) gxg[t * D + i] += gog[t * D + i];  // the residual
        }
        store_group(gxg.data(), b0, count, TD, GX);
      }
    }
  });
  const std::vector<float> total = reduce_chunks(partial, size);
  return {gx, tensor_from(total, 0, {D}), tensor_from(total, D, {D}), tensor_from(total, 2 * D, {3 * D, D}),
          tensor_from(total, 2 * D + 3 * D * D, {3 * D})};
}

std::vector<at::Tensor> attn_half_forward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                          const at::Tensor& w_qkv, const at::Tensor& b_qkv, double eps) {
  check_attention(x, ln_w, ln_b, w_qkv, b_qkv);
  return with_width(x.size(2), [&]<int D>() {
    return attn_forward<D>(x, AttentionWeights<D>(x, ln_w, ln_b, w_qkv, b_qkv, eps));
  });
}

std::vector<at::Tensor> attn_half_backward(const at::Tensor& x, const at::Tensor& y, const at::Tensor& top,
                                           const at::Tensor& inv, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                           const at::Tensor& w_qkv, const at::Tensor& b_qkv, const at::Tensor& gy,
                                           double eps) {
  check_attention(x, ln_w, ln_b, w_qkv, b_qkv);
  check_float(y, "y", 3); check_float(top, "top", 2); check_float(inv, "inv", 2); check_float(gy, "gy", 3);
  TORCH_CHECK(y.sizes() == x.sizes() && gy.sizes() == x.sizes(), "attn_half_backward: y and gy must have x's shape");
  TORCH_CHECK(top.sizes() == inv.sizes() && top.size(0) == x.size(0) && top.size(1) == x.size(1),
              "attn_half_backward: top and inv must be (B, T)");
  return with_width(x.size(2), [&]<int D>() {
    return attn_backward<D>(x, y, top, inv, AttentionWeights<D>(x, ln_w, ln_b, w_qkv, b_qkv, eps), gy);
  });
}

// -- the VAE's latent: z = mu + eps exp(logvar / 2) and the KL terms' sum, in one pass --------------
// latent_kl_forward  mu, logvar, eps (any shape, all the same) -> z (that shape),
//                    s = sum(1 + logvar - mu^2 - exp(logvar)) (0-d; KL = -s / (2 numel))
// latent_kl_backward mu, logvar, eps, gz, gs (0-d) -> g mu = gz - 2 gs mu,
//                    g logvar = gz eps exp(logvar / 2) / 2 + gs (1 - exp(logvar))
// count (<= 16) consecutive floats <-> one lane vector; lanes at or beyond count read as 0
inline lanes_t load_lanes(const float* src, int64_t count) {
  lanes_t v = splat(0.f);
  if (count == LANES) std::memcpy(&v, src, sizeof v);
  else for (int64_t l = 0; l < count; ++l) v[l] = src[l];
  return v;
}

inline void store_lanes(lanes_t v, float* dst, int64_t count) {
  if (count == LANES) std::memcpy(dst, &v, sizeof v);
  else for (int64_t l = 0; l < count; ++l) dst[l] = v[l];
}

void check_latent(const at::Tensor& mu, const at::Tensor& logvar, const at::Tensor& eps) {
  for (const auto* t : {&mu, &logvar, &eps}) {
    TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat && t->is_contiguous(),
                "latent_kl: mu, logvar and eps must be contiguous float32 CPU tensors");
    TORCH_CHECK(t->sizes() == mu.sizes(), "latent_kl: mu, logvar and eps must have one shape");
  }
}

std::vector<at::Tensor> latent_kl_forward(const at::Tensor& mu, const at::Tensor& logvar, const at::Tensor& eps) {
  check_latent(mu, logvar, eps);
  const int64_t n = mu.numel(), vectors = (n + LANES - 1) / LANES, chunks = n_chunks(vectors);
  auto z = at::empty_like(mu);
  const float *M = mu.data_ptr<float>(), *L = logvar.data_ptr<float>(), *E = eps.data_ptr<float>();
  float* Z = z.data_ptr<float>();
  std::vector<std::vector<lanes_t>> partial(chunks, std::vector<lanes_t>(1, splat(0.f)));
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const FlushDenormals flush;
    for (int64_t c = c0; c < c1; ++c) {
      lanes_t sum = splat(0.f);
      for (int64_t v = chunk_start(c, chunks, vectors); v < chunk_start(c + 1, chunks, vectors); ++v) {
        const int64_t i0 = v * LANES, count = std::min(LANES, n - i0);
        const lanes_t m = load_lanes(M + i0, count), l = load_lanes(L + i0, count), e = load_lanes(E + i0, count);
        const lanes_t sd = exp_lanes(l * 0.5f);
        store_lanes(m + e * sd, Z + i0, count);
        sum += 1.f + l - m * m - sd * sd;  // padded lanes: 1 + 0 - 0 - 1 = 0
      }
      partial[c][0] = sum;
    }
  });
  const std::vector<float> total = reduce_chunks(partial, 1);
  return {z, at::scalar_tensor(total[0], mu.options())};
}

std::vector<at::Tensor> latent_kl_backward(const at::Tensor& mu, const at::Tensor& logvar, const at::Tensor& eps,
                                           const at::Tensor& gz, const at::Tensor& gs) {
  check_latent(mu, logvar, eps);
  TORCH_CHECK(gz.device().is_cpu() && gz.scalar_type() == at::kFloat && gz.is_contiguous() && gz.sizes() == mu.sizes(),
              "latent_kl_backward: gz must be a contiguous float32 CPU tensor of mu's shape");
  TORCH_CHECK(gs.numel() == 1, "latent_kl_backward: gs must hold one value");
  const int64_t n = mu.numel(), vectors = (n + LANES - 1) / LANES;
  const float g_sum = gs.to(at::kFloat).item<float>();
  auto gmu = at::empty_like(mu), glogvar = at::empty_like(mu);
  const float *M = mu.data_ptr<float>(), *L = logvar.data_ptr<float>(), *E = eps.data_ptr<float>();
  const float* GZ = gz.data_ptr<float>();
  float *GM = gmu.data_ptr<float>(), *GL = glogvar.data_ptr<float>();
  at::parallel_for(0, vectors, 256, [&](int64_t v0, int64_t v1) {
    const FlushDenormals flush;
    for (int64_t v = v0; v < v1; ++v) {
      const int64_t i0 = v * LANES, count = std::min(LANES, n - i0);
      const lanes_t m = load_lanes(M + i0, count), l = load_lanes(L + i0, count), e = load_lanes(E + i0, count);
      const lanes_t g = load_lanes(GZ + i0, count), sd = exp_lanes(l * 0.5f);
      store_lanes(g - (2.f * g_sum) * m, GM + i0, count);
      store_lanes(0.5f * g * e * sd + g_sum * (1.f - sd * sd), GL + i0, count);
    }
  });
  return {gmu, glogvar};
}

// -- the tokenizer and the reconstruction losses: one pass each way ---------------------------------
// tokens_forward   x_num (N, K), codes (N, C) int64 (rows of emb: each column's codes plus its
//                  offset), num_w (K, D), emb (E, D), bias (K + C, D)
//                  -> tokens (N, K + C, D): x_num[n, t] num_w[t] + bias[t], then emb[codes[n, j]] + bias[K + j]
// tokens_backward  x_num, codes, g (N, K + C, D), E -> g num_w (K, D), g emb (E, D), g bias (K + C, D)
// recon_losses_forward  h (N, K + C, D), x_num (N, K), x_cat (N, C) int64, num_w (K, D), num_b (K),
//                  cat_w (C, D, M), cat_b (C, M), cards (C) -> mse (mean over the N K numeric values of
//                  (<h[n, t], num_w[t]> + num_b[t] - x_num[n, t])^2), ce (mean over the N C categorical
//                  values of the cross-entropy of the logits h[n, K + j] cat_w[j] + cat_b[j], each head
//                  at its own width cards[j] <= M)
// recon_losses_backward h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards, g_mse, g_ce
//                  -> g h, g num_w, g num_b, g cat_w, g cat_b (the padding of cat_w, cat_b gets 0)
// Sums run per fixed chunk of rows and the chunks are added in order: same inputs and thread count,
// same bits.


at::Tensor tokens_forward(const at::Tensor& x_num, const at::Tensor& codes, const at::Tensor& num_w,
                          const at::Tensor& emb, const at::Tensor& bias) {
  check_rows(x_num, "x_num", 2, at::kFloat); check_rows(codes, "codes", 2, at::kLong);
  check_rows(num_w, "num_w", 2, at::kFloat); check_rows(emb, "emb", 2, at::kFloat); check_rows(bias, "bias", 2, at::kFloat);
  const int64_t N = x_num.size(0), K = x_num.size(1), C = codes.size(1), D = bias.size(1), T = K + C, E = emb.size(0);
  TORCH_CHECK(codes.size(0) == N && num_w.size(0) == K && num_w.size(1) == D && emb.size(1) == D && bias.size(0) == T,
              "tokens: shapes disagree (x_num (N, K), codes (N, C), num_w (K, D), emb (E, D), bias (K + C, D))");
  if (N * C) {
    const int64_t low = codes.min().item<int64_t>(), high = codes.max().item<int64_t>();
    TORCH_CHECK(low >= 0 && high < E, "tokens: category codes must lie in [0, ", E, "), got [", low, ", ", high, "]");
  }
  auto out = at::empty({N, T, D}, x_num.options());
  const float *X = x_num.data_ptr<float>(), *W = num_w.data_ptr<float>(), *EM = emb.data_ptr<float>();
  const float* B = bias.data_ptr<float>();
  const int64_t* CODE = codes.data_ptr<int64_t>();
  float* O = out.data_ptr<float>();
  at::parallel_for(0, N, 64, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      float* o = O + n * T * D;
      for (int64_t t = 0; t < K; ++t)
        for (int64_t d = 0; d < D; ++d) o[t * D + d] = X[n * K + t] * W[t * D + d] + B[t * D + d];
      for (int64_t j = 0; j < C; ++j) {
        const float* row = EM + CODE[n * C + j] * D;
        for (int64_t d = 0; d < D; ++d) o[(K + j) * D + d] = row[d] + B[(K + j) * D + d];
      }
    }
  });
  return out;
}

std::vector<at::Tensor> tokens_backward(const at::Tensor& x_num, const at::Tensor& codes, const at::Tensor& g,
                                        int64_t n_emb) {
  check_rows(x_num, "x_num", 2, at::kFloat); check_rows(codes, "codes", 2, at::kLong); check_rows(g, "g", 3, at::kFloat);
  const int64_t N = x_num.size(0), K = x_num.size(1), C = codes.size(1), D = g.size(2), T = K + C;
  TORCH_CHECK(g.size(0) == N && g.size(1) == T && codes.size(0) == N, "tokens_backward: g must be (N, K + C, D)");
  const int64_t chunks = n_chunks(N), size = K * D + n_emb * D + T * D;
  std::vector<std::vector<float>> partial(chunks, std::vector<float>(size, 0.f));
  const float *X = x_num.data_ptr<float>(), *G = g.data_ptr<float>();
  const int64_t* CODE = codes.data_ptr<int64_t>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float *gw = partial[c].data(), *ge = gw + K * D, *gb = ge + n_emb * D;
      for (int64_t n = chunk_start(c, chunks, N); n < chunk_start(c + 1, chunks, N); ++n) {
        const float* gn = G + n * T * D;
        for (int64_t t = 0; t < K; ++t)
          for (int64_t d = 0; d < D; ++d) gw[t * D + d] += gn[t * D + d] * X[n * K + t];
        for (int64_t j = 0; j < C; ++j)
          for (int64_t d = 0; d < D; ++d) ge[CODE[n * C + j] * D + d] += gn[(K + j) * D + d];
        for (int64_t i = 0; i < T * D; ++i) gb[i] += gn[i];
      }
    }
  });
  const std::vector<float> total = reduce_chunks(partial, size);
  return {tensor_from(total, 0, {K, D}), tensor_from(total, K * D, {n_emb, D}), tensor_from(total, K * D + n_emb * D, {T, D})};
}

// The reconstruction losses' inputs, with each categorical head's weights and bias laid out in
// lane vectors: MB = ceil(M / 16) per (column, feature), weights 0 and bias -1e30 beyond the
// column's width (exp takes such a logit to 0 once any real logit is subtracted).
template <int D>
struct Recon {
  int64_t N, K, C, T, M, MB;
  const float *H, *X, *W, *Bn;
  const int64_t *Y;
  std::vector<lanes_t> cw, cb;  // (C, D, MB), (C, MB)
  std::vector<int64_t> blocks;  // lane vectors of each column: ceil(cards[j] / 16)

  Recon(const at::Tensor& h, const at::Tensor& x_num, const at::Tensor& x_cat, const at::Tensor& num_w,
        const at::Tensor& num_b, const at::Tensor& cat_w, const at::Tensor& cat_b, const at::Tensor& cards)
      : N(h.size(0)), K(x_num.size(1)), C(x_cat.size(1)), T(h.size(1)), M(cat_w.size(2)), MB((M + LANES - 1) / LANES),
        H(h.data_ptr<float>()), X(x_num.data_ptr<float>()), W(num_w.data_ptr<float>()), Bn(num_b.data_ptr<float>()),
        Y(x_cat.data_ptr<int64_t>()), cw(C * D * MB, splat(0.f)), cb(C * MB, splat(-1.0e30f)), blocks(C) {
    const float *CW = cat_w.data_ptr<float>(), *CB = cat_b.data_ptr<float>();
    const int64_t* cards_ = cards.data_ptr<int64_t>();
    for (int64_t j = 0; j < C; ++j) {
      blocks[j] = (cards_[j] + LANES - 1) / LANES;
      for (int64_t c = 0; c < cards_[j]; ++c) {
        cb[j * MB + c / LANES][c % LANES] = CB[j * M + c];
        for (int d = 0; d < D; ++d) cw[(j * D + d) * MB + c / LANES][c % LANES] = CW[(j * D + d) * M + c];
      }
    }
  }

  // <h[n, t], num_w[t]> + num_b[t] - x_num[n, t]
  float residual(int64_t n, int64_t t) const {
    const float* ht = H + (n * T + t) * D;
    float v = Bn[t];
    for (int d = 0; d < D; ++d) v += ht[d] * W[t * D + d];
    return v - X[n * K + t];
  }

  // row n's logits of column j -> l[0, blocks[j]); returns their log-sum-exp
  float logits(int64_t n, int64_t j, lanes_t* l) const {
    const float* hj = H + (n * T + K + j) * D;
    lanes_t m = splat(-1.0e30f);
    for (int64_t b = 0; b < blocks[j]; ++b) {
      lanes_t v = cb[j * MB + b];
      for (int d = 0; d < D; ++d) v += hj[d] * cw[(j * D + d) * MB + b];
      l[b] = v;
      m = max_lanes(m, v);
    }
    const float top = lane_max(m);
    lanes_t s = splat(0.f);
    for (int64_t b = 0; b < blocks[j]; ++b) s += exp_lanes(l[b] - top);
    return top + std::log(lane_sum_tree(s));
  }

  float target(int64_t n, int64_t j, const lanes_t* l) const {
    const int64_t y = Y[n * C + j];
    return l[y / LANES][y % LANES];
  }
};

void check_recon(const at::Tensor& h, const at::Tensor& x_num, const at::Tensor& x_cat, const at::Tensor& num_w,
                 const at::Tensor& num_b, const at::Tensor& cat_w, const at::Tensor& cat_b, const at::Tensor& cards) {
  check_rows(h, "h", 3, at::kFloat); check_rows(x_num, "x_num", 2, at::kFloat); check_rows(x_cat, "x_cat", 2, at::kLong);
  check_rows(num_w, "num_w", 2, at::kFloat); check_rows(num_b, "num_b", 1, at::kFloat);
  check_rows(cat_w, "cat_w", 3, at::kFloat); check_rows(cat_b, "cat_b", 2, at::kFloat); check_rows(cards, "cards", 1, at::kLong);
  const int64_t N = h.size(0), K = x_num.size(1), C = x_cat.size(1), D = h.size(2), M = cat_w.size(2);
  TORCH_CHECK(h.size(1) == K + C && x_num.size(0) == N && x_cat.size(0) == N && num_w.size(0) == K &&
                  num_w.size(1) == D && num_b.size(0) == K && cat_w.size(0) == C && cat_w.size(1) == D &&
                  cat_b.size(0) == C && cat_b.size(1) == M && cards.size(0) == C,
              "recon_losses: shapes disagree (h (N, K + C, D), x_num (N, K), x_cat (N, C), num_w (K, D), num_b (K), "
              "cat_w (C, D, M), cat_b (C, M), cards (C))");
  if (C) {
    TORCH_CHECK(cards.min().item<int64_t>() >= 1 && cards.max().item<int64_t>() <= M, "recon_losses: cards must lie in [1, M]");
    if (N) {
      TORCH_CHECK(x_cat.min().item<int64_t>() >= 0 && (x_cat < cards.unsqueeze(0)).all().item<bool>(),
                  "recon_losses: a category code lies outside its column's cards");
    }
  }
}

template <int D>
std::vector<at::Tensor> recon_forward(const Recon<D>& r, const at::Tensor& h) {
  const int64_t chunks = n_chunks(r.N);
  std::vector<double> sq(chunks, 0.0), ce(chunks, 0.0);
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const FlushDenormals flush;
    std::vector<lanes_t> l(r.MB);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t n = chunk_start(c, chunks, r.N); n < chunk_start(c + 1, chunks, r.N); ++n) {
        float row_sq = 0.f, row_ce = 0.f;
        for (int64_t t = 0; t < r.K; ++t) {
          const float e = r.residual(n, t);
          row_sq += e * e;
        }
        for (int64_t j = 0; j < r.C; ++j) row_ce += r.logits(n, j, l.data()) - r.target(n, j, l.data());
        sq[c] += row_sq, ce[c] += row_ce;
      }
  });
  double sq_total = 0.0, ce_total = 0.0;
  for (int64_t c = 0; c < chunks; ++c) sq_total += sq[c], ce_total += ce[c];
  const double nk = static_cast<double>(r.N * r.K), nc = static_cast<double>(r.N * r.C);
  return {at::scalar_tensor(nk ? sq_total / nk : 0.0, h.options()), at::scalar_tensor(nc ? ce_total / nc : 0.0, h.options())};
}

template <int D>
std::vector<at::Tensor> recon_backward(const Recon<D>& r, const at::Tensor& h, float g_mse, float g_ce) {
  const int64_t N = r.N, K = r.K, C = r.C, T = r.T, M = r.M, MB = r.MB;
  const float num_scale = K ? 2.f * g_mse / static_cast<float>(N * K) : 0.f;
  const float cat_scale = C ? g_ce / static_cast<float>(N * C) : 0.f;
  auto gh = at::empty_like(h);
  float* GH = gh.data_ptr<float>();
  const int64_t chunks = n_chunks(N), num_size = K * D + K, cat_size = C * D * MB + C * MB;
  std::vector<std::vector<float>> num_partial(chunks, std::vector<float>(num_size, 0.f));
  std::vector<std::vector<lanes_t>> cat_partial(chunks, std::vector<lanes_t>(cat_size, splat(0.f)));
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    const FlushDenormals flush;
    std::vector<lanes_t> l(MB);
    for (int64_t c = c0; c < c1; ++c) {
      float *gw = num_partial[c].data(), *gb = gw + K * D;
      lanes_t *gcw = cat_partial[c].data(), *gcb = gcw + C * D * MB;
      for (int64_t n = chunk_start(c, chunks, N); n < chunk_start(c + 1, chunks, N); ++n) {
        for (int64_t t = 0; t < K; ++t) {
          const float e = num_scale * r.residual(n, t);
          const float* ht = r.H + (n * T + t) * D;
          for (int d = 0; d < D; ++d) {
            GH[(n * T + t) * D + d] = e * r.W[t * D + d];
            gw[t * D + d] += e * ht[d];
          }
          gb[t] += e;
        }
        for (int64_t j = 0; j < C; ++j) {
          const float lse = r.logits(n, j, l.data());
          const int64_t y = r.Y[n * C + j];
          const float* hj = r.H + (n * T + K + j) * D;
          lanes_t ghj[D];
          for (int d = 0; d < D; ++d) ghj[d] = splat(0.f);
          for (int64_t b = 0; b < r.blocks[j]; ++b) {
            lanes_t dl = exp_lanes(l[b] - lse);  // the probabilities (0 beyond the column's width)
            if (y / LANES == b) dl[y % LANES] -= 1.f;
            dl *= cat_scale;
            gcb[j * MB + b] += dl;
            for (int d = 0; d < D; ++d) {
              gcw[(j * D + d) * MB + b] += hj[d] * dl;
              ghj[d] += dl * r.cw[(j * D + d) * MB + b];
            }
          }
          for (int d = 0; d < D; ++d) GH[(n * T + K + j) * D + d] = lane_sum_tree(ghj[d]);
        }
      }
    }
  });
  const std::vector<float> num = reduce_chunks(num_partial, num_size);
  std::vector<float> cat(cat_size * LANES, 0.f);  // lane by lane, chunks in order
  for (const auto& chunk : cat_partial)
    for (int64_t p = 0; p < cat_size; ++p)
      for (int64_t lane = 0; lane < LANES; ++lane) cat[p * LANES + lane] += chunk[p][lane];
  auto gcw = at::empty({C, D, M}, h.options()), gcb = at::empty({C, M}, h.options());
  float *GCW = gcw.data_ptr<float>(), *GCB = gcb.data_ptr<float>();
  for (int64_t j = 0; j < C; ++j)
    for (int64_t m = 0; m < M; ++m) {
      GCB[j * M + m] = cat[(C * D * MB + j * MB) * LANES + m];
      for (int d = 0; d < D; ++d) GCW[(j * D + d) * M + m] = cat[((j * D + d) * MB) * LANES + m];
    }
  return {gh, tensor_from(num, 0, {K, D}), tensor_from(num, K * D, {K}), gcw, gcb};
}

std::vector<at::Tensor> recon_losses_forward(const at::Tensor& h, const at::Tensor& x_num, const at::Tensor& x_cat,
                                             const at::Tensor& num_w, const at::Tensor& num_b, const at::Tensor& cat_w,
                                             const at::Tensor& cat_b, const at::Tensor& cards) {
  check_recon(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards);
  return with_width(h.size(2), [&]<int D>() {
    return recon_forward<D>(Recon<D>(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards), h);
  });
}

std::vector<at::Tensor> recon_losses_backward(const at::Tensor& h, const at::Tensor& x_num, const at::Tensor& x_cat,
                                              const at::Tensor& num_w, const at::Tensor& num_b, const at::Tensor& cat_w,
                                              const at::Tensor& cat_b, const at::Tensor& cards, const at::Tensor& g_mse,
                                              const at::Tensor& g_ce) {
  check_recon(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards);
  const float gm = g_mse.item<float>(), gc = g_ce.item<float>();
  return with_width(h.size(2), [&]<int D>() {
    return recon_backward<D>(Recon<D>(h, x_num, x_cat, num_w, num_b, cat_w, cat_b, cards), h, gm, gc);
  });
}
}  // namespace

// The floats per lane vector this build uses (16 with AVX-512, 8 with AVX, else 4).
int64_t lanes() { return LANES; }

TORCH_LIBRARY(idsynth_narrow, m) {
  m.def("lanes() -> int", &lanes);
  m.def("ffn_half_forward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, float eps) -> Tensor");
  m.def("ffn_half_backward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, Tensor gy, float eps) -> Tensor[]");
  m.def("attn_half_forward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w_qkv, Tensor b_qkv, float eps) -> Tensor[]");
  m.def("latent_kl_forward(Tensor mu, Tensor logvar, Tensor eps) -> Tensor[]");
  m.def("latent_kl_backward(Tensor mu, Tensor logvar, Tensor eps, Tensor gz, Tensor gs) -> Tensor[]");
  m.def("attn_half_backward(Tensor x, Tensor y, Tensor top, Tensor inv, Tensor ln_w, Tensor ln_b, Tensor w_qkv, Tensor b_qkv, Tensor gy, float eps) -> Tensor[]");
  m.def("tokens_forward(Tensor x_num, Tensor codes, Tensor num_w, Tensor emb, Tensor bias) -> Tensor");
  m.def("tokens_backward(Tensor x_num, Tensor codes, Tensor g, int n_emb) -> Tensor[]");
  m.def("recon_losses_forward(Tensor h, Tensor x_num, Tensor x_cat, Tensor num_w, Tensor num_b, Tensor cat_w, Tensor cat_b, Tensor cards) -> Tensor[]");
  m.def("recon_losses_backward(Tensor h, Tensor x_num, Tensor x_cat, Tensor num_w, Tensor num_b, Tensor cat_w, Tensor cat_b, Tensor cards, Tensor g_mse, Tensor g_ce) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(idsynth_narrow, CPU, m) {
  m.impl("ffn_half_forward", &ffn_half_forward);
  m.impl("ffn_half_backward", &ffn_half_backward);
  m.impl("attn_half_forward", &attn_half_forward);
  m.impl("attn_half_backward", &attn_half_backward);
  m.impl("latent_kl_forward", &latent_kl_forward);
  m.impl("latent_kl_backward", &latent_kl_backward);
  m.impl("tokens_forward", &tokens_forward);
  m.impl("tokens_backward", &tokens_backward);
  m.impl("recon_losses_forward", &recon_losses_forward);
  m.impl("recon_losses_backward", &recon_losses_backward);
}
