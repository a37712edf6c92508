// Fused CPU kernels for a Transformer over narrow tokens (TabSyn's VAE: 4-wide tokens, one head,
// a 128-wide feed-forward layer). Loaded by idsynth/models/narrow_kernels.py, which holds the
// autograd wrappers, the reference formulas and the fallback when no compiler is present.
//
// Why: with 4-wide tokens every PyTorch op is either a matmul with an inner size of 4 (far from
// the machine's rate) or an element-wise pass over a tensor 32x wider than the tokens (bound by
// memory), and the attention kernels are built for heads of 64 and more. Here a tile of 64
// tokens is held transposed in a small buffer, so each loop runs over the tokens, the hidden
// activation never leaves the core's registers and L1 cache, and the compiler vectorises the
// token loops. All tensors are float32 and contiguous (the wrappers make them so).
//
// ffn_forward  x (N, D), w1 (H, D), b1 (H), w2 (E, H), b2 (E) -> y (N, E) = relu(x w1^T + b1) w2^T + b2
// ffn_backward x, w1, b1, w2, gy (N, E) -> gx (N, D), gw1 (H, D), gb1 (H), gw2 (E, H), gb2 (E)
//              (the hidden activation is recomputed, nothing of it is saved)
// layer_norm_forward  x (N, D), w (D), b (D), eps -> y (N, D), rstd (N)
// layer_norm_backward x, w, rstd, gy -> gx, gw, gb
// attention_forward  qkv (B, T, 3 D), scale -> o (B, T, D), lse (B, T)   softmax(scale q k^T) v
// attention_backward qkv, o, lse, go (B, T, D), scale -> gqkv (B, T, 3 D)
//
// Weight gradients are summed per fixed chunk of tiles and the chunks added in order, so a
// result depends on the number of threads but not on scheduling: same threads, same bits.

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace {

// 16 float lanes as one value (GCC/Clang vector types: the compiler keeps them in one AVX-512
// register, or two AVX2 ones, and never unrolls them into scalars).
constexpr int64_t LANES = 16;
typedef float lanes_t __attribute__((vector_size(LANES * sizeof(float))));

inline lanes_t splat(float value) { return lanes_t{} + value; }

inline float lane_sum(lanes_t v) {
  float s = 0.f;
  for (int64_t l = 0; l < LANES; ++l) s += v[l];
  return s;
}

constexpr int64_t TILE = 64;            // tokens per tile of the feed-forward kernels
constexpr int64_t G = TILE / LANES;     // lane vectors per tile row

void check_float(const at::Tensor& t, const char* name, int64_t dim) {
  TORCH_CHECK(t.device().is_cpu(), name, " must be on the CPU");
  TORCH_CHECK(t.scalar_type() == at::kFloat, name, " must be float32, got ", t.scalar_type());
  TORCH_CHECK(t.dim() == dim, name, " must have ", dim, " dimensions, got ", t.dim());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

// Tokens [n0, n0 + count) of a (N, width) row-major array -> a (width, G) tile of lane vectors, zero-padded.
inline void load_tile(const float* src, int64_t n0, int64_t count, int64_t width, lanes_t* tile) {
  for (int64_t i = 0; i < width; ++i) {
    float* row = reinterpret_cast<float*>(tile + i * G);
    for (int64_t g = 0; g < count; ++g) row[g] = src[(n0 + g) * width + i];
    for (int64_t g = count; g < TILE; ++g) row[g] = 0.f;
  }
}

inline void store_tile(const lanes_t* tile, int64_t n0, int64_t count, int64_t width, float* dst) {
  const float* flat = reinterpret_cast<const float*>(tile);
  for (int64_t g = 0; g < count; ++g)
    for (int64_t i = 0; i < width; ++i) dst[(n0 + g) * width + i] = flat[i * TILE + g];
}

// pre[v] = b1[j] + sum_i w1[j, i] x[i][v] for one hidden unit j over a tile
inline void hidden_pre(const float* w1_row, float b1_j, const lanes_t* xt, int64_t D, lanes_t* pre) {
  for (int64_t v = 0; v < G; ++v) pre[v] = splat(b1_j);
  for (int64_t i = 0; i < D; ++i)
    for (int64_t v = 0; v < G; ++v) pre[v] += w1_row[i] * xt[i * G + v];
}

at::Tensor ffn_forward(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1, const at::Tensor& w2,
                       const at::Tensor& b2) {
  check_float(x, "x", 2); check_float(w1, "w1", 2); check_float(b1, "b1", 1);
  check_float(w2, "w2", 2); check_float(b2, "b2", 1);
  const int64_t N = x.size(0), D = x.size(1), H = w1.size(0), E = w2.size(0);
  TORCH_CHECK(w1.size(1) == D && b1.size(0) == H && w2.size(1) == H && b2.size(0) == E, "ffn_forward: shapes disagree");
  auto y = at::empty({N, E}, x.options());
  const float *X = x.data_ptr<float>(), *W1 = w1.data_ptr<float>(), *B1 = b1.data_ptr<float>();
  const float *W2 = w2.data_ptr<float>(), *B2 = b2.data_ptr<float>();
  float* Y = y.data_ptr<float>();
  const int64_t tiles = (N + TILE - 1) / TILE;
  at::parallel_for(0, tiles, 16, [&](int64_t t0, int64_t t1) {
    std::vector<lanes_t> xt(D * G), yt(E * G);
    lanes_t h[G];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n0 = t * TILE, count = std::min(TILE, N - n0);
      load_tile(X, n0, count, D, xt.data());
      for (int64_t o = 0; o < E; ++o)
        for (int64_t v = 0; v < G; ++v) yt[o * G + v] = splat(B2[o]);
      for (int64_t j = 0; j < H; ++j) {
        hidden_pre(W1 + j * D, B1[j], xt.data(), D, h);
        for (int64_t v = 0; v < G; ++v) h[v] = h[v] > 0.f ? h[v] : 0.f;
        for (int64_t o = 0; o < E; ++o)
          for (int64_t v = 0; v < G; ++v) yt[o * G + v] += W2[o * H + j] * h[v];
      }
      store_tile(yt.data(), n0, count, E, Y);
    }
  });
  return y;
}

// Splits [0, items) into `chunks` fixed ranges (the same for a given thread count).
inline int64_t chunk_start(int64_t c, int64_t chunks, int64_t items) { return c * items / chunks; }

std::vector<at::Tensor> ffn_backward(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                                     const at::Tensor& w2, const at::Tensor& gy) {
  check_float(x, "x", 2); check_float(w1, "w1", 2); check_float(b1, "b1", 1);
  check_float(w2, "w2", 2); check_float(gy, "gy", 2);
  const int64_t N = x.size(0), D = x.size(1), H = w1.size(0), E = w2.size(0);
  TORCH_CHECK(gy.size(0) == N && gy.size(1) == E, "ffn_backward: gy must be (N, E)");
  auto gx = at::empty({N, D}, x.options());
  const int64_t tiles = (N + TILE - 1) / TILE;
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), tiles));
  const int64_t per_chunk = H * D + H + E * H + E;  // gw1, gb1, gw2, gb2
  std::vector<float> partial(chunks * per_chunk, 0.f);
  const float *X = x.data_ptr<float>(), *W1 = w1.data_ptr<float>(), *B1 = b1.data_ptr<float>();
  const float *W2 = w2.data_ptr<float>(), *GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<lanes_t> xt(D * G), gyt(E * G), gxt(D * G);
    // weight gradients summed per lane over the chunk's tiles, reduced across lanes at its end
    std::vector<lanes_t> acc(per_chunk);
    lanes_t pre[G], gh[G];
    for (int64_t c = c0; c < c1; ++c) {
      std::fill(acc.begin(), acc.end(), splat(0.f));
      lanes_t* gw1 = acc.data();
      lanes_t* gb1 = gw1 + H * D;
      lanes_t* gw2 = gb1 + H;
      lanes_t* gb2 = gw2 + E * H;
      for (int64_t t = chunk_start(c, chunks, tiles); t < chunk_start(c + 1, chunks, tiles); ++t) {
        const int64_t n0 = t * TILE, count = std::min(TILE, N - n0);
        load_tile(X, n0, count, D, xt.data());
        load_tile(GY, n0, count, E, gyt.data());  // padded tokens have zero gradient
        std::fill(gxt.begin(), gxt.end(), splat(0.f));
        for (int64_t j = 0; j < H; ++j) {
          hidden_pre(W1 + j * D, B1[j], xt.data(), D, pre);
          for (int64_t v = 0; v < G; ++v) gh[v] = splat(0.f);
          for (int64_t o = 0; o < E; ++o)
            for (int64_t v = 0; v < G; ++v) gh[v] += W2[o * H + j] * gyt[o * G + v];
          for (int64_t v = 0; v < G; ++v) {
            gh[v] = pre[v] > 0.f ? gh[v] : 0.f;   // the gradient of the pre-activation
            pre[v] = pre[v] > 0.f ? pre[v] : 0.f;  // now the activation h
          }
          for (int64_t o = 0; o < E; ++o)
            for (int64_t v = 0; v < G; ++v) gw2[o * H + j] += gyt[o * G + v] * pre[v];
          for (int64_t v = 0; v < G; ++v) gb1[j] += gh[v];
          for (int64_t i = 0; i < D; ++i) {
            const float w = W1[j * D + i];
            for (int64_t v = 0; v < G; ++v) {
              gw1[j * D + i] += gh[v] * xt[i * G + v];
              gxt[i * G + v] += w * gh[v];
            }
          }
        }
        for (int64_t o = 0; o < E; ++o)
          for (int64_t v = 0; v < G; ++v) gb2[o] += gyt[o * G + v];
        store_tile(gxt.data(), n0, count, D, GX);
      }
      for (int64_t p = 0; p < per_chunk; ++p) partial[c * per_chunk + p] = lane_sum(acc[p]);
    }
  });
  auto total = at::zeros({per_chunk}, x.options());
  float* T = total.data_ptr<float>();
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t p = 0; p < per_chunk; ++p) T[p] += partial[c * per_chunk + p];
  auto gw1 = total.narrow(0, 0, H * D).view({H, D}).clone();
  auto gb1 = total.narrow(0, H * D, H).clone();
  auto gw2 = total.narrow(0, H * D + H, E * H).view({E, H}).clone();
  auto gb2 = total.narrow(0, H * D + H + E * H, E).clone();
  return {gx, gw1, gb1, gw2, gb2};
}

// LayerNorm over rows of a few features: y = (x - mean) * rstd * w + b per row of x (N, D).
std::vector<at::Tensor> layer_norm_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b, double eps) {
  check_float(x, "x", 2); check_float(w, "w", 1); check_float(b, "b", 1);
  const int64_t N = x.size(0), D = x.size(1);
  TORCH_CHECK(w.size(0) == D && b.size(0) == D, "layer_norm_forward: w and b must have x's width");
  auto y = at::empty_like(x);
  auto rstd = at::empty({N}, x.options());
  const float *X = x.data_ptr<float>(), *W = w.data_ptr<float>(), *Bs = b.data_ptr<float>();
  float *Y = y.data_ptr<float>(), *R = rstd.data_ptr<float>();
  const float e = static_cast<float>(eps);
  at::parallel_for(0, N, 4096, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const float* row = X + n * D;
      float mean = 0.f, var = 0.f;
      for (int64_t i = 0; i < D; ++i) mean += row[i];
      mean /= D;
      for (int64_t i = 0; i < D; ++i) var += (row[i] - mean) * (row[i] - mean);
      const float r = 1.f / std::sqrt(var / D + e);
      R[n] = r;
      for (int64_t i = 0; i < D; ++i) Y[n * D + i] = (row[i] - mean) * r * W[i] + Bs[i];
    }
  });
  return {y, rstd};
}

// gx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = gy * w; gw = sum gy * xhat; gb = sum gy.
std::vector<at::Tensor> layer_norm_backward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& rstd,
                                            const at::Tensor& gy) {
  check_float(x, "x", 2); check_float(w, "w", 1); check_float(rstd, "rstd", 1); check_float(gy, "gy", 2);
  const int64_t N = x.size(0), D = x.size(1);
  auto gx = at::empty_like(x);
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), (N + 4095) / 4096));
  std::vector<float> partial(chunks * 2 * D, 0.f);
  const float *X = x.data_ptr<float>(), *W = w.data_ptr<float>(), *R = rstd.data_ptr<float>();
  const float* GY = gy.data_ptr<float>();
  float* GX = gx.data_ptr<float>();
  at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    std::vector<float> xhat(D), g(D);
    for (int64_t c = c0; c < c1; ++c) {
      float* gw = partial.data() + c * 2 * D;
      float* gb = gw + D;
      for (int64_t n = chunk_start(c, chunks, N); n < chunk_start(c + 1, chunks, N); ++n) {
        const float* row = X + n * D;
        const float* grow = GY + n * D;
        float mean = 0.f;
        for (int64_t i = 0; i < D; ++i) mean += row[i];
        mean /= D;
        float g_mean = 0.f, gx_mean = 0.f;
        for (int64_t i = 0; i < D; ++i) {
          xhat[i] = (row[i] - mean) * R[n];
          g[i] = grow[i] * W[i];
          g_mean += g[i];
          gx_mean += g[i] * xhat[i];
          gw[i] += grow[i] * xhat[i];
          gb[i] += grow[i];
        }
        g_mean /= D;
        gx_mean /= D;
        for (int64_t i = 0; i < D; ++i) GX[n * D + i] = R[n] * (g[i] - g_mean - xhat[i] * gx_mean);
      }
    }
  });
  auto gw = at::zeros({D}, x.options()), gb = at::zeros({D}, x.options());
  float *GW = gw.data_ptr<float>(), *GB = gb.data_ptr<float>();
  for (int64_t c = 0; c < chunks; ++c)
    for (int64_t i = 0; i < D; ++i) {
      GW[i] += partial[c * 2 * D + i];
      GB[i] += partial[c * 2 * D + D + i];
    }
  return {gx, gw, gb};
}

// Attention is vectorised over 16 rows of the batch at once: a group's q, k, v are held as
// (T, D) lane vectors, so every loop over queries, keys and features is scalar and no T or D
// leaves a remainder.

// Rows [b0, b0 + count) of a batch whose row b, token t, feature i sits at
// src[b * row_stride + t * token_stride + i] -> (T * D) lane vectors, zero-padded lanes.
struct Layout {
  int64_t T, D, token_stride, row_stride;
};

inline void load_group(const float* src, int64_t b0, int64_t count, Layout f, lanes_t* dst) {
  for (int64_t t = 0; t < f.T; ++t)
    for (int64_t i = 0; i < f.D; ++i) {
      lanes_t lanes = splat(0.f);
      for (int64_t l = 0; l < count; ++l) lanes[l] = src[(b0 + l) * f.row_stride + t * f.token_stride + i];
      dst[t * f.D + i] = lanes;
    }
}

inline void store_group(const lanes_t* src, int64_t b0, int64_t count, Layout f, float* dst) {
  for (int64_t l = 0; l < count; ++l)
    for (int64_t t = 0; t < f.T; ++t)
      for (int64_t i = 0; i < f.D; ++i) dst[(b0 + l) * f.row_stride + t * f.token_stride + i] = src[t * f.D + i][l];
}

// exp of n lane vectors in place (a flat loop, so the compiler calls the vector exp)
inline void exp_inplace(lanes_t* values, int64_t n) {
  float* flat = reinterpret_cast<float*>(values);
  for (int64_t e = 0; e < n * LANES; ++e) flat[e] = std::exp(flat[e]);
}

// p[u] = softmax over u of scale * <q[t], k[u]> for query t of a group. Without lse_in the
// normaliser is computed and its log written to *lse; with lse_in (the backward pass) it is read.
inline void softmax_row(const lanes_t* qg, const lanes_t* kg, int64_t t, int64_t T, int64_t D, float scale,
                        lanes_t* p, lanes_t* lse, const lanes_t* lse_in) {
  lanes_t top = splat(-3.0e38f);  // finite: the library is built with -ffast-math
  for (int64_t u = 0; u < T; ++u) {
    lanes_t s = splat(0.f);
    for (int64_t i = 0; i < D; ++i) s += qg[t * D + i] * kg[u * D + i];
    s *= scale;
    p[u] = s;
    top = s > top ? s : top;
  }
  const lanes_t shift = lse_in ? *lse_in : top;
  for (int64_t u = 0; u < T; ++u) p[u] -= shift;
  exp_inplace(p, T);
  if (lse_in) return;
  lanes_t sum = splat(0.f);
  for (int64_t u = 0; u < T; ++u) sum += p[u];
  const lanes_t inv = 1.f / sum;
  for (int64_t u = 0; u < T; ++u) p[u] *= inv;
  for (int64_t l = 0; l < LANES; ++l) sum[l] = std::log(sum[l]);
  *lse = top + sum;
}

// qkv (B, T, 3 D): per token its query, key and value, as one Linear(D, 3 D) returns them.
std::vector<at::Tensor> attention_forward(const at::Tensor& qkv, double scale) {
  check_float(qkv, "qkv", 3);
  TORCH_CHECK(qkv.size(2) % 3 == 0, "attention_forward: qkv's last dimension must be 3 x the head width");
  const int64_t B = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / 3, TD = T * D;
  auto o = at::empty({B, T, D}, qkv.options());
  auto lse = at::empty({B, T}, qkv.options());
  const float* QKV = qkv.data_ptr<float>();
  float *O = o.data_ptr<float>(), *L = lse.data_ptr<float>();
  const Layout packed{T, D, 3 * D, 3 * TD}, plain{T, D, D, TD}, per_token{T, 1, 1, T};
  const float sc = static_cast<float>(scale);
  const int64_t groups = (B + LANES - 1) / LANES;
  at::parallel_for(0, groups, 4, [&](int64_t g0, int64_t g1) {
    std::vector<lanes_t> qg(TD), kg(TD), vg(TD), og(TD), p(T), lg(T);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
      load_group(QKV, b0, count, packed, qg.data());
      load_group(QKV + D, b0, count, packed, kg.data());
      load_group(QKV + 2 * D, b0, count, packed, vg.data());
      for (int64_t t = 0; t < T; ++t) {
        softmax_row(qg.data(), kg.data(), t, T, D, sc, p.data(), &lg[t], nullptr);
        for (int64_t i = 0; i < D; ++i) {
          lanes_t out = splat(0.f);
          for (int64_t u = 0; u < T; ++u) out += p[u] * vg[u * D + i];
          og[t * D + i] = out;
        }
      }
      store_group(og.data(), b0, count, plain, O);
      store_group(lg.data(), b0, count, per_token, L);
    }
  });
  return {o, lse};
}

at::Tensor attention_backward(const at::Tensor& qkv, const at::Tensor& o, const at::Tensor& lse, const at::Tensor& go,
                              double scale) {
  check_float(qkv, "qkv", 3); check_float(o, "o", 3); check_float(lse, "lse", 2); check_float(go, "go", 3);
  const int64_t B = qkv.size(0), T = qkv.size(1), D = qkv.size(2) / 3, TD = T * D;
  auto gqkv = at::empty_like(qkv);
  const float *QKV = qkv.data_ptr<float>(), *O = o.data_ptr<float>(), *L = lse.data_ptr<float>();
  const float* GO = go.data_ptr<float>();
  float* GQKV = gqkv.data_ptr<float>();
  const Layout packed{T, D, 3 * D, 3 * TD}, plain{T, D, D, TD}, per_token{T, 1, 1, T};
  const float sc = static_cast<float>(scale);
  const int64_t groups = (B + LANES - 1) / LANES;
  at::parallel_for(0, groups, 4, [&](int64_t g0, int64_t g1) {
    std::vector<lanes_t> qg(TD), kg(TD), vg(TD), og(TD), gog(TD), lg(T), gqg(TD), gkg(TD), gvg(TD), p(T);
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t b0 = g * LANES, count = std::min(LANES, B - b0);
      load_group(QKV, b0, count, packed, qg.data());
      load_group(QKV + D, b0, count, packed, kg.data());
      load_group(QKV + 2 * D, b0, count, packed, vg.data());
      load_group(O, b0, count, plain, og.data());
      load_group(GO, b0, count, plain, gog.data());
      load_group(L, b0, count, per_token, lg.data());
      std::fill(gkg.begin(), gkg.end(), splat(0.f));
      std::fill(gvg.begin(), gvg.end(), splat(0.f));
      for (int64_t t = 0; t < T; ++t) {
        softmax_row(qg.data(), kg.data(), t, T, D, sc, p.data(), nullptr, &lg[t]);
        const lanes_t* got = gog.data() + t * D;
        lanes_t delta = splat(0.f);  // sum_i go[t][i] o[t][i]
        for (int64_t i = 0; i < D; ++i) delta += got[i] * og[t * D + i];
        for (int64_t i = 0; i < D; ++i) gqg[t * D + i] = splat(0.f);
        for (int64_t u = 0; u < T; ++u) {
          lanes_t dp = splat(0.f);  // d loss / d p[u] = <go[t], v[u]>
          for (int64_t i = 0; i < D; ++i) {
            dp += got[i] * vg[u * D + i];
            gvg[u * D + i] += p[u] * got[i];
          }
          const lanes_t ds = p[u] * (dp - delta) * sc;  // through the softmax and the scale
          for (int64_t i = 0; i < D; ++i) {
            gqg[t * D + i] += ds * kg[u * D + i];
            gkg[u * D + i] += ds * qg[t * D + i];
          }
        }
      }
      store_group(gqg.data(), b0, count, packed, GQKV);
      store_group(gkg.data(), b0, count, packed, GQKV + D);
      store_group(gvg.data(), b0, count, packed, GQKV + 2 * D);
    }
  });
  return gqkv;
}

}  // namespace

TORCH_LIBRARY(idsynth_narrow, m) {
  m.def("ffn_forward(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor b2) -> Tensor");
  m.def("ffn_backward(Tensor x, Tensor w1, Tensor b1, Tensor w2, Tensor gy) -> Tensor[]");
  m.def("layer_norm_forward(Tensor x, Tensor w, Tensor b, float eps) -> Tensor[]");
  m.def("layer_norm_backward(Tensor x, Tensor w, Tensor rstd, Tensor gy) -> Tensor[]");
  m.def("attention_forward(Tensor qkv, float scale) -> Tensor[]");
  m.def("attention_backward(Tensor qkv, Tensor o, Tensor lse, Tensor go, float scale) -> Tensor");
}

TORCH_LIBRARY_IMPL(idsynth_narrow, CPU, m) {
  m.impl("ffn_forward", &ffn_forward);
  m.impl("ffn_backward", &ffn_backward);
  m.impl("layer_norm_forward", &layer_norm_forward);
  m.impl("layer_norm_backward", &layer_norm_backward);
  m.impl("attention_forward", &attention_forward);
  m.impl("attention_backward", &attention_backward);
}
