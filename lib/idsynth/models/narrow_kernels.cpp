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
//                       o (the attention's output), lse (B, T) (its log-normaliser per query)
// attn_half_backward x, o, lse, ln_w, ln_b, w_qkv, b_qkv, gy, eps
//                    -> gx, g ln_w, g ln_b, g w_qkv, g b_qkv
//
// The feed-forward half works on tiles of 64 tokens held transposed as (D, 4) vectors of 16
// lanes, so the 128-wide hidden activation lives in registers and is recomputed in the backward
// pass (nothing of it is stored). The attention half works on 16 batch rows at a time, one per
// lane, held as (T, D) lane vectors, so every loop over queries, keys and features is scalar and
// no T or D leaves a remainder; the backward pass recomputes LayerNorm, q, k, v and the softmax
// from x and the saved log-normaliser. All tensors float32 and contiguous (the wrappers see to
// it). Weight gradients are summed per lane over a fixed chunk of tiles or groups and the chunks
// added in order: same inputs and thread count, same bits.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

// 16 float lanes as one value (GCC/Clang vector types: one AVX-512 register, or two AVX2 ones;
// the compiler never unrolls them into scalars).
constexpr int64_t LANES = 16;
typedef float lanes_t __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t ilanes_t __attribute__((vector_size(LANES * sizeof(int32_t))));

inline lanes_t splat(float value) { return lanes_t{} + value; }

inline float lane_sum(lanes_t v) {
  float s = 0.f;
  for (int64_t l = 0; l < LANES; ++l) s += v[l];
  return s;
}

// exp(x) per lane: 2^n * 2^f with n = round(x / ln 2), |f| <= 1/2, 2^f by its Taylor series to
// degree 7 (relative error < 1e-8 before rounding, below float's 6e-8). x is clamped to
// [-87, 88] (the results there underflow to ~1e-38 or stay finite).
inline lanes_t exp_lanes(lanes_t x) {
  x = x < -87.f ? splat(-87.f) : x;
  x = x > 88.f ? splat(88.f) : x;
  const lanes_t t = x * 1.44269504088896341f;
  const lanes_t shifted = t + (t >= 0.f ? splat(0.5f) : splat(-0.5f));
  const ilanes_t n = __builtin_convertvector(shifted, ilanes_t);  // rounds half away from zero
  const lanes_t f = (t - __builtin_convertvector(n, lanes_t)) * 0.693147180559945309f;  // in [-ln2/2, ln2/2]
  lanes_t p = splat(1.f / 5040.f);
  p = p * f + 1.f / 720.f;
  p = p * f + 1.f / 120.f;
  p = p * f + 1.f / 24.f;
  p = p * f + 1.f / 6.f;
  p = p * f + 0.5f;
  p = p * f + 1.f;
  p = p * f + 1.f;
  ilanes_t bits;
  std::memcpy(&bits, &p, sizeof bits);
  bits += n << 23;  // times 2^n, n in [-126, 127]
  std::memcpy(&p, &bits, sizeof p);
  return p;
}

void check_float(const at::Tensor& t, const char* name, int64_t dim) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU");
  TORCH_CHECK(t.scalar_type() == at::kFloat, name, " must be float32, got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, name, " must have ", dim, " dimensions, got ", t.dim());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

// Splits [0, items) into `chunks` fixed ranges (the same for a given thread count).
inline int64_t chunk_start(int64_t c, int64_t chunks, int64_t items) { return c * items / chunks; }

int64_t n_chunks(int64_t items) { return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), items)); }

// Per-chunk weight-gradient accumulators (lane vectors) -> the summed gradients, chunks in order.
std::vector<float> reduce_chunks(const std::vector<std::vector<lanes_t>>& partial, int64_t size) {
  std::vector<float> total(size, 0.f);
  for (const auto& chunk : partial)
    for (int64_t p = 0; p < size; ++p) total[p] += lane_sum(chunk[p]);
  return total;
}

at::Tensor tensor_from(const std::vector<float>& values, int64_t offset, at::IntArrayRef shape) {
  auto out = at::empty(shape, at::TensorOptions().dtype(at::kFloat));
  std::memcpy(out.data_ptr<float>(), values.data() + offset, out.numel() * sizeof(float));
  return out;
}

// -- LayerNorm of D lane vectors spaced `stride` apart (one token per lane) ----------------------
struct LayerNormLanes {
  const float* w;
  const float* b;
  float eps;

  // xhat = (x - mean) * rstd, y = xhat * w + b; returns rstd
  lanes_t forward(const lanes_t* x, int64_t D, int64_t stride, lanes_t* xhat, lanes_t* y) const {
    lanes_t mean = splat(0.f), var = splat(0.f);
    for (int64_t i = 0; i < D; ++i) mean += x[i * stride];
    mean *= 1.f / D;
    for (int64_t i = 0; i < D; ++i) {
      const lanes_t c = x[i * stride] - mean;
      var += c * c;
    }
    lanes_t rstd = var * (1.f / D) + eps;
    for (int64_t l = 0; l < LANES; ++l) rstd[l] = 1.f / std::sqrt(rstd[l]);
    for (int64_t i = 0; i < D; ++i) {
      xhat[i * stride] = (x[i * stride] - mean) * rstd;
      y[i * stride] = xhat[i * stride] * w[i] + b[i];
    }
    return rstd;
  }

  // gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * w; gw += gy * xhat, gb += gy
  void backward(const lanes_t* xhat, lanes_t rstd, const lanes_t* gy, int64_t D, int64_t stride, lanes_t* gx,
                lanes_t* gw, lanes_t* gb) const {
    lanes_t g_mean = splat(0.f), gx_mean = splat(0.f);
    for (int64_t i = 0; i < D; ++i) {
      const lanes_t g = gy[i * stride] * w[i];
      g_mean += g;
      gx_mean += g * xhat[i * stride];
      gw[i] += gy[i * stride] * xhat[i * stride];
      gb[i] += gy[i * stride];
    }
    g_mean *= 1.f / D;
    gx_mean *= 1.f / D;
    for (int64_t i = 0; i < D; ++i)
      gx[i * stride] = rstd * (gy[i * stride] * w[i] - g_mean - xhat[i * stride] * gx_mean);
  }
};

// -- the feed-forward half --------------------------------------------------------------------------
constexpr int64_t TILE = 64;         // tokens per tile
constexpr int64_t G = TILE / LANES;  // lane vectors per feature of a tile

// Tokens [n0, n0 + count) of a (N, D) row-major array -> a (D, G) tile of lane vectors, zero-padded.
inline void load_tile(const float* src, int64_t n0, int64_t count, int64_t D, lanes_t* tile) {
  for (int64_t i = 0; i < D; ++i) {
    float* row = reinterpret_cast<float*>(tile + i * G);
    for (int64_t g = 0; g < count; ++g) row[g] = src[(n0 + g) * D + i];
    for (int64_t g = count; g < TILE; ++g) row[g] = 0.f;
  }
}

inline void store_tile(const lanes_t* tile, int64_t n0, int64_t count, int64_t D, float* dst) {
  const float* flat = reinterpret_cast<const float*>(tile);
  for (int64_t g = 0; g < count; ++g)
    for (int64_t i = 0; i < D; ++i) dst[(n0 + g) * D + i] = flat[i * TILE + g];
}

// pre[v] = b1[j] + sum_i w1[j, i] xn[i][v] for one hidden unit j over a tile
inline void hidden_pre(const float* w1_row, float b1_j, const lanes_t* xn, int64_t D, lanes_t* pre) {
  for (int64_t v = 0; v < G; ++v) pre[v] = splat(b1_j);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t v = 0; v < G; ++v) pre[v] += w1_row[i] * xn[i * G + v];
}

struct FFNWeights {
  LayerNormLanes norm;
  const float *w1, *b1, *w2, *b2;
  int64_t D, H;
};

FFNWeights ffn_weights(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w1,
                       const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2, double eps) {
  check_float(x, "x", 2); check_float(ln_w, "ln_w", 1); check_float(ln_b, "ln_b", 1);
  check_float(w1, "w1", 2); check_float(b1, "b1", 1); check_float(w2, "w2", 2); check_float(b2, "b2", 1);
  const int64_t D = x.size(1), H = w1.size(0);
  TORCH_CHECK(ln_w.size(0) == D && ln_b.size(0) == D && w1.size(1) == D && b1.size(0) == H && w2.size(0) == D &&
                  w2.size(1) == H && b2.size(0) == D,
              "ffn_half: shapes disagree (x (N, D), w1 (H, D), w2 (D, H))");
  return {{ln_w.data_ptr<float>(), ln_b.data_ptr<float>(), static_cast<float>(eps)},
          w1.data_ptr<float>(), b1.data_ptr<float>(), w2.data_ptr<float>(), b2.data_ptr<float>(), D, H};
}

at::Tensor ffn_half_forward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w1,
                            const at::Tensor& b1, const at::Tensor& w2, const at::Tensor& b2, double eps) {
  const FFNWeights p = ffn_weights(x, ln_w, ln_b, w1, b1, w2, b2, eps);
  const int64_t N = x.size(0), D = p.D, H = p.H;
  auto y = at::empty_like(x);
  const float* X = x.data_ptr<float>();
  float* Y = y.data_ptr<float>();
  const int64_t tiles = (N + TILE - 1) / TILE;
  at::parallel_for(0, tiles, 16, [&](int64_t t0, int64_t t1) {
    std::vector<lanes_t> xt(D * G), xhat(D * G), xn(D * G), yt(D * G);
    lanes_t h[G];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * TILE, count = std::min(TILE, N - n0);
      load_tile(X, n0, count, D, xt.data());
      for (int64_t v = 0; v < G; ++v) p.norm.forward(&xt[v], D, G, &xhat[v], &xn[v]);
      for (int64_t o = 0; o < D; ++o)
        for (int64_t v = 0; v < G; ++v) yt[o * G + v] = xt[o * G + v] + p.b2[o];  // the residual
      for (int64_t j = 0; j < H; ++j) {
        hidden_pre(p.w1 + j * D, p.b1[j], xn.data(), D, h);
        for (int64_t v = 0; v < G; ++v) h[v] = h[v] > 0.f ? h[v] : 0.f;
        for (int64_t o = 0; o < D; ++o)
          for (int64_t v = 0; v < G; ++v) yt[o * G + v] += p.w2[o * H + j] * h[v];
      }
      store_tile(yt.data(), n0, count, D, Y);
    }
  });
  return y;
}

std::vector<at::Tensor> ffn_half_backward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                          const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                                          const at::Tensor& b2, const at::Tensor& gy, double eps) {
  const FFNWeights p = ffn_weights(x, ln_w, ln_b, w1, b1, w2, b2, eps);
  check_float(gy, "gy", 2);
  TORCH_CHECK(gy.sizes() == x.sizes(), "ffn_half_backward: gy must have x's shape");
  const int64_t N = x.size(0), D = p.D, H = p.H;
  auto gx = at::empty_like(x);
  const int64_t tiles = (N + TILE - 1) / TILE, chunks = n_chunks(tiles);
  // gradients, in this order: ln_w (D), ln_b (D), w1 (H, D), b1 (H), w2 (D, H), b2 (D)
  const int64_t size = 2 * D + H * D + H + D * H + D;
  std::vector<std::vector<lanes_t>> partial(chunks, std::vector<lanes_t>(size, splat(0.f)));
  const float *X = x.data_ptr<float>(), *GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<lanes_t> xt(D * G), xhat(D * G), xn(D * G), gyt(D * G), gxn(D * G), gxt(D * G);
    lanes_t rstd[G], pre[G], gh[G];
    for (int64_t c = c0; c < c1; ++c) {
      lanes_t* g_lnw = partial[c].data();
      lanes_t* g_lnb = g_lnw + D;
      lanes_t* gw1 = g_lnb + D;
      lanes_t* gb1 = gw1 + H * D;
      lanes_t* gw2 = gb1 + H;
      lanes_t* gb2 = gw2 + D * H;
      for (int64_t t = chunk_start(c, chunks, tiles); t < chunk_start(c + 1, chunks, tiles); ++t) {
        const int64_t n0 = t * TILE, count = std::min(TILE, N - n0);
        load_tile(X, n0, count, D, xt.data());
        load_tile(GY, n0, count, D, gyt.data());  // padded tokens have zero gradient
        for (int64_t v = 0; v < G; ++v) rstd[v] = p.norm.forward(&xt[v], D, G, &xhat[v], &xn[v]);
        std::fill(gxn.begin(), gxn.end(), splat(0.f));
        for (int64_t j = 0; j < H; ++j) {
          hidden_pre(p.w1 + j * D, p.b1[j], xn.data(), D, pre);
          for (int64_t v = 0; v < G; ++v) gh[v] = splat(0.f);
          for (int64_t o = 0; o < D; ++o)
            for (int64_t v = 0; v < G; ++v) gh[v] += p.w2[o * H + j] * gyt[o * G + v];
          for (int64_t v = 0; v < G; ++v) {
            gh[v] = pre[v] > 0.f ? gh[v] : 0.f;   // the gradient of the pre-activation
            pre[v] = pre[v] > 0.f ? pre[v] : 0.f;  // now the activation h
          }
          for (int64_t o = 0; o < D; ++o)
            for (int64_t v = 0; v < G; ++v) gw2[o * H + j] += gyt[o * G + v] * pre[v];
          for (int64_t v = 0; v < G; ++v) gb1[j] += gh[v];
          for (int64_t i = 0; i < D; ++i) {
            const float w = p.w1[j * D + i];
            for (int64_t v = 0; v < G; ++v) {
              gw1[j * D + i] += gh[v] * xn[i * G + v];
              gxn[i * G + v] += w * gh[v];
            }
          }
        }
        for (int64_t o = 0; o < D; ++o)
          for (int64_t v = 0; v < G; ++v) gb2[o] += gyt[o * G + v];
        for (int64_t v = 0; v < G; ++v) {
          p.norm.backward(&xhat[v], rstd[v], &gxn[v], D, G, &gxt[v], g_lnw, g_lnb);
          for (int64_t i = 0; i < D; ++i) gxt[i * G + v] += gyt[i * G + v];  // the residual
        }
        store_tile(gxt.data(), n0, count, D, GX);
      }
    }
  });
  const std::vector<float> total = reduce_chunks(partial, size);
  return {gx, tensor_from(total, 0, {D}), tensor_from(total, D, {D}), tensor_from(total, 2 * D, {H, D}),
          tensor_from(total, 2 * D + H * D, {H}), tensor_from(total, 2 * D + H * D + H, {D, H}),
          tensor_from(total, 2 * D + 2 * H * D + H, {D})};
}

// -- the attention half ------------------------------------------------------------------------------
// Rows [b0, b0 + count) of a (B, T, D) array -> (T * D) lane vectors, zero-padded lanes.
inline void load_group(const float* src, int64_t b0, int64_t count, int64_t TD, lanes_t* dst) {
  for (int64_t e = 0; e < TD; ++e) {
    lanes_t lanes = splat(0.f);
    for (int64_t l = 0; l < count; ++l) lanes[l] = src[(b0 + l) * TD + e];
    dst[e] = lanes;
  }
}

inline void store_group(const lanes_t* src, int64_t b0, int64_t count, int64_t TD, float* dst) {
  for (int64_t l = 0; l < count; ++l)
    for (int64_t e = 0; e < TD; ++e) dst[(b0 + l) * TD + e] = src[e][l];
}

struct AttentionWeights {
  LayerNormLanes norm;
  const float *w_qkv, *b_qkv;
  int64_t T, D;
  float scale;
};

AttentionWeights attention_weights(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                   const at::Tensor& w_qkv, const at::Tensor& b_qkv, double eps) {
  check_float(x, "x", 3); check_float(ln_w, "ln_w", 1); check_float(ln_b, "ln_b", 1);
  check_float(w_qkv, "w_qkv", 2); check_float(b_qkv, "b_qkv", 1);
  const int64_t T = x.size(1), D = x.size(2);
  TORCH_CHECK(ln_w.size(0) == D && ln_b.size(0) == D && w_qkv.size(0) == 3 * D && w_qkv.size(1) == D &&
                  b_qkv.size(0) == 3 * D,
              "attn_half: shapes disagree (x (B, T, D), w_qkv (3 D, D))");
  return {{ln_w.data_ptr<float>(), ln_b.data_ptr<float>(), static_cast<float>(eps)},
          w_qkv.data_ptr<float>(), b_qkv.data_ptr<float>(), T, D, 1.f / std::sqrt(static_cast<float>(D))};
}

// Per group: LayerNorm of every token (xhat, rstd kept for the backward pass) and its q, k, v.
struct GroupState {
  std::vector<lanes_t> x, xhat, xn, q, k, v, rstd, p;
  GroupState(int64_t T, int64_t D) : x(T * D), xhat(T * D), xn(T * D), q(T * D), k(T * D), v(T * D), rstd(T), p(T) {}

  void project(const AttentionWeights& a) {
    const int64_t T = a.T, D = a.D;
    for (int64_t t = 0; t < T; ++t) {
      rstd[t] = a.norm.forward(&x[t * D], D, 1, &xhat[t * D], &xn[t * D]);
      for (int64_t part = 0; part < 3; ++part) {
        lanes_t* out = (part == 0 ? q : part == 1 ? k : v).data() + t * D;
        for (int64_t i = 0; i < D; ++i) {
          const int64_t row = part * D + i;
          lanes_t acc = splat(a.b_qkv[row]);
          for (int64_t e = 0; e < D; ++e) acc += a.w_qkv[row * D + e] * xn[t * D + e];
          out[i] = acc;
        }
      }
    }
  }

  // p[u] = softmax over u of scale <q[t], k[u]>; with lse_in (the backward pass) the normaliser
  // is read, else it is computed and its log returned.
  lanes_t softmax_row(const AttentionWeights& a, int64_t t, const lanes_t* lse_in) {
    const int64_t T = a.T, D = a.D;
    lanes_t top = splat(-3.0e38f);  // finite: built with -ffast-math
    for (int64_t u = 0; u < T; ++u) {
      lanes_t s = splat(0.f);
      for (int64_t i = 0; i < D; ++i) s += q[t * D + i] * k[u * D + i];
      s *= a.scale;
      p[u] = s;
      top = s > top ? s : top;
    }
    const lanes_t shift = lse_in ? *lse_in : top;
    lanes_t sum = splat(0.f);
    for (int64_t u = 0; u < T; ++u) {
      p[u] = exp_lanes(p[u] - shift);
      sum += p[u];
    }
    if (lse_in) return *lse_in;
    const lanes_t inv = 1.f / sum;
    for (int64_t u = 0; u < T; ++u) p[u] *= inv;
    for (int64_t l = 0; l < LANES; ++l) sum[l] = std::log(sum[l]);
    return top + sum;
  }
};

std::vector<at::Tensor> attn_half_forward(const at::Tensor& x, const at::Tensor& ln_w, const at::Tensor& ln_b,
                                          const at::Tensor& w_qkv, const at::Tensor& b_qkv, double eps) {
  const AttentionWeights a = attention_weights(x, ln_w, ln_b, w_qkv, b_qkv, eps);
  const int64_t B = x.size(0), T = a.T, D = a.D, TD = T * D;
  auto y = at::empty_like(x), o = at::empty_like(x);
  auto lse = at::empty({B, T}, x.options());
  const float* X = x.data_ptr<float>();
  float *Y = y.data_ptr<float>(), *O = o.data_ptr<float>(), *L = lse.data_ptr<float>();
  const int64_t groups = (B + LANES - 1) / LANES;
  at::parallel_for(0, groups, 4, [&](int64_t g0, int64_t g1) {
    GroupState s(T, D);
    std::vector<lanes_t> og(TD), yg(TD), lg(T);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
      load_group(X, b0, count, TD, s.x.data());
      s.project(a);
      for (int64_t t = 0; t < T; ++t) {
        lg[t] = s.softmax_row(a, t, nullptr);
        for (int64_t i = 0; i < D; ++i) {
          lanes_t out = splat(0.f);
          for (int64_t u = 0; u < T; ++u) out += s.p[u] * s.v[u * D + i];
          og[t * D + i] = out;
          yg[t * D + i] = s.x[t * D + i] + out;  // the residual
        }
      }
      store_group(yg.data(), b0, count, TD, Y);
      store_group(og.data(), b0, count, TD, O);
      store_group(lg.data(), b0, count, T, L);
    }
  });
  return {y, o, lse};
}

std::vector<at::Tensor> attn_half_backward(const at::Tensor& x, const at::Tensor& o, const at::Tensor& lse,
                                           const at::Tensor& ln_w, const at::Tensor& ln_b, const at::Tensor& w_qkv,
                                           const at::Tensor& b_qkv, const at::Tensor& gy, double eps) {
  const AttentionWeights a = attention_weights(x, ln_w, ln_b, w_qkv, b_qkv, eps);
  check_float(o, "o", 3); check_float(lse, "lse", 2); check_float(gy, "gy", 3);
  TORCH_CHECK(o.sizes() == x.sizes() && gy.sizes() == x.sizes(), "attn_half_backward: o and gy must have x's shape");
  const int64_t B = x.size(0), T = a.T, D = a.D, TD = T * D;
  auto gx = at::empty_like(x);
  const int64_t groups = (B + LANES - 1) / LANES, chunks = n_chunks(groups);
  // gradients, in this order: ln_w (D), ln_b (D), w_qkv (3 D, D), b_qkv (3 D)
  const int64_t size = 2 * D + 3 * D * D + 3 * D;
  std::vector<std::vector<lanes_t>> partial(chunks, std::vector<lanes_t>(size, splat(0.f)));
  const float *X = x.data_ptr<float>(), *O = o.data_ptr<float>(), *L = lse.data_ptr<float>();
  const float* GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    GroupState s(T, D);
    std::vector<lanes_t> og(TD), gog(TD), lg(T), gq(TD), gk(TD), gv(TD), gxn(TD), gxg(TD);
    for (int64_t c = c0; c < c1; ++c) {
      lanes_t* g_lnw = partial[c].data();
      lanes_t* g_lnb = g_lnw + D;
      lanes_t* g_w = g_lnb + D;
      lanes_t* g_b = g_w + 3 * D * D;
      for (int64_t g = chunk_start(c, chunks, groups); g < chunk_start(c + 1, chunks, groups); ++g) {
        const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
        load_group(X, b0, count, TD, s.x.data());
        load_group(O, b0, count, TD, og.data());
        load_group(GY, b0, count, TD, gog.data());  // padded rows have zero gradient
        load_group(L, b0, count, T, lg.data());
        s.project(a);
        std::fill(gk.begin(), gk.end(), splat(0.f));
        std::fill(gv.begin(), gv.end(), splat(0.f));
        for (int64_t t = 0; t < T; ++t) {
          s.softmax_row(a, t, &lg[t]);
          const lanes_t* got = &gog[t * D];
          lanes_t delta = splat(0.f);  // sum_i go[t][i] o[t][i]
          for (int64_t i = 0; i < D; ++i) delta += got[i] * og[t * D + i];
          for (int64_t i = 0; i < D; ++i) gq[t * D + i] = splat(0.f);
          for (int64_t u = 0; u < T; ++u) {
            lanes_t dp = splat(0.f);  // d loss / d p[u] = <go[t], v[u]>
            for (int64_t i = 0; i < D; ++i) {
              dp += got[i] * s.v[u * D + i];
              gv[u * D + i] += s.p[u] * got[i];
            }
            const lanes_t ds = s.p[u] * (dp - delta) * a.scale;  // through the softmax and the scale
            for (int64_t i = 0; i < D; ++i) {
              gq[t * D + i] += ds * s.k[u * D + i];
              gk[u * D + i] += ds * s.q[t * D + i];
            }
          }
        }
        // through the projection and the LayerNorm, per token
        for (int64_t t = 0; t < T; ++t) {
          for (int64_t e = 0; e < D; ++e) gxn[t * D + e] = splat(0.f);
          for (int64_t part = 0; part < 3; ++part) {
            const lanes_t* grad = (part == 0 ? gq : part == 1 ? gk : gv).data() + t * D;
            for (int64_t i = 0; i < D; ++i) {
              const int64_t row = part * D + i;
              g_b[row] += grad[i];
              for (int64_t e = 0; e < D; ++e) {
                g_w[row * D + e] += grad[i] * s.xn[t * D + e];
                gxn[t * D + e] += a.w_qkv[row * D + e] * grad[i];
              }
            }
          }
          a.norm.backward(&s.xhat[t * D], s.rstd[t], &gxn[t * D], D, 1, &gxg[t * D], g_lnw, g_lnb);
          for (int64_t i = 0; i < D; ++i) gxg[t * D + i] += gog[t * D + i];  // the residual
        }
        store_group(gxg.data(), b0, count, TD, GX);
      }
    }
  });
  const std::vector<float> total = reduce_chunks(partial, size);
  return {gx, tensor_from(total, 0, {D}), tensor_from(total, D, {D}), tensor_from(total, 2 * D, {3 * D, D}),
          tensor_from(total, 2 * D + 3 * D * D, {3 * D})};
}

}  // namespace

TORCH_LIBRARY(idsynth_narrow, m) {
  m.def("ffn_half_forward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, float eps) -> Tensor");
  m.def("ffn_half_backward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w1, Tensor b1, Tensor w2, Tensor b2, Tensor gy, float eps) -> Tensor[]");
  m.def("attn_half_forward(Tensor x, Tensor ln_w, Tensor ln_b, Tensor w_qkv, Tensor b_qkv, float eps) -> Tensor[]");
  m.def("attn_half_backward(Tensor x, Tensor o, Tensor lse, Tensor ln_w, Tensor ln_b, Tensor w_qkv, Tensor b_qkv, Tensor gy, float eps) -> Tensor[]");
}

TORCH_LIBRARY_IMPL(idsynth_narrow, CPU, m) {
  m.impl("ffn_half_forward", &ffn_half_forward);
  m.impl("ffn_half_backward", &ffn_half_backward);
  m.impl("attn_half_forward", &attn_half_forward);
  m.impl("attn_half_backward", &attn_half_backward);
}
