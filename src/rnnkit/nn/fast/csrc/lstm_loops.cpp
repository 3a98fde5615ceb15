// The two time loops of rnnkit's explicit-BPTT LSTM (rnnkit/nn/fast/explicit_lstm.py), compiled,
// with optional layer normalisation (Ba et al. 2016) and variational recurrent dropout.
//
// The Python loops run eight to twelve torch ops per step, each dispatched from the interpreter
// on a (B, 4H) or (B, H) tile; with layer norm two of them are normalisations and two more their
// backward. Here each step is its recurrent product plus ONE fused pass per batch row (split
// over the rows with at::parallel_for) that normalises the product, activates the gates,
// updates the cell, normalises it and writes h, or, backward, runs both layer-norm backward
// projections in the row. Everything else is explicit_lstm.py's, whose docstring derives the
// equations and whose Python loops are the reference these are tested against
// (tests/test_native_lstm.py).
//
// Saved buffers, time-major: gates (T, B, 4H) activated [i, f, g, o]; ks (T, B, H) k = tanh(.);
// hs, cs (T+1, B, H) the state buffers (explicit_common.py); with layer norm also an (T, B, 4H)
// = N(a_t), cn (T, B, H) = N(c_t) and their 1/sqrt(var + eps) rs_a, rs_c (T, B); us (T, B, H) =
// m * h_{t-1} under variational dropout. valid (T, B) bool marks real steps.
#include "loops_common.h"

#include <cmath>

namespace {

using namespace rnnkit;

// The sum of a vector's lanes.
template <typename T>
inline T lane_sum(const Vec<T>& v) {
  alignas(64) T lanes[Vec<T>::size()];
  v.store(lanes);
  T total(0);
  for (int64_t i = 0; i < Vec<T>::size(); ++i) total += lanes[i];
  return total;
}

// sum(v) and sum(v * w) over n values (w may be null: then only sum(v)).
template <typename T>
inline void row_sums(const T* v, const T* w, int64_t n, T& sv, T& svw) {
  const int64_t W = Vec<T>::size();
  Vec<T> a(T(0)), b(T(0));
  for (int64_t j = 0; j < n; j += W) {
    const int64_t k = std::min<int64_t>(W, n - j);
    const Vec<T> x = Vec<T>::loadu(v + j, k);
    a = a + x;
    if (w != nullptr) b = b + x * Vec<T>::loadu(w + j, k);
  }
  sv = lane_sum(a);
  svw = w == nullptr ? T(0) : lane_sum(b);
}

// Normalise v (n values) into out: out = (v - mean) * rstd, rstd = 1 / sqrt(var + eps) with the
// biased variance, as torch.native_layer_norm; returns rstd.
template <typename T>
inline T normalise_row(const T* v, T* out, int64_t n, double eps) {
  const int64_t W = Vec<T>::size();
  T sum, unused;
  row_sums(v, static_cast<const T*>(nullptr), n, sum, unused);
  const T mean = sum / T(n);
  Vec<T> acc(T(0));
  const Vec<T> m(mean);
  for (int64_t j = 0; j < n; j += W) {
    const int64_t k = std::min<int64_t>(W, n - j);
    const Vec<T> d = Vec<T>::loadu(v + j, k) - m;
    // masked tail: loadu(ptr, k) zero-fills lanes >= k, so d there is -mean; drop them
    acc = acc + (k == W ? d * d : Vec<T>::set(Vec<T>(T(0)), d * d, k));
  }
  const T var = lane_sum(acc) / T(n);
  const T rstd = T(1) / std::sqrt(var + T(eps));
  const Vec<T> r(rstd);
  for (int64_t j = 0; j < n; j += W) {
    const int64_t k = std::min<int64_t>(W, n - j);
    ((Vec<T>::loadu(v + j, k) - m) * r).store(out + j, k);
  }
  return rstd;
}

// In place: w (n values, = gain * dL/dLN(v)) becomes dL/dv = rstd (w - mean(w) - N mean(w N)).
template <typename T>
inline void layer_norm_backward_row(T* w, const T* norm, T rstd, int64_t n) {
  const int64_t W = Vec<T>::size();
  T sw, swn;
  row_sums(static_cast<const T*>(w), norm, n, sw, swn);
  const Vec<T> mw(sw / T(n)), mwn(swn / T(n)), r(rstd);
  for (int64_t j = 0; j < n; j += W) {
    const int64_t k = std::min<int64_t>(W, n - j);
    (r * (Vec<T>::loadu(w + j, k) - mw - Vec<T>::loadu(norm + j, k) * mwn)).store(w + j, k);
  }
}

struct Norm {  // layer-norm parameters and the buffers of one step (all null without it)
  const void* gain_hh = nullptr;
  const void* gain_c = nullptr;
  const void* bias_c = nullptr;
  void* an = nullptr;
  void* rs_a = nullptr;
  void* cn = nullptr;
  void* rs_c = nullptr;
};

// One forward step, rows [b0, b1). pre = x_t + b_hh + (gain_hh N(a) or a), a = p = u W_hh^T;
// [i, f, g, o] = [sigmoid, sigmoid, tanh, sigmoid](pre); c = f c_prev + i g;
// k = tanh(gain_c N(c) + bias_c) (or tanh(c)); h = o k. y (B, T, H) gets h, or 0 at a padded
// step, where the state slots hold (h0, c0) reversed and 0 forward (no real step reads them).
template <typename T>
void forward_rows(const T* xp, int64_t xp_stride, const T* p, const T* b_hh, const T* h_prev,
                  const T* c_prev, T* gates, T* ks, T* h_out, T* c_out, T* y, int64_t y_stride,
                  const T* h0, const T* c0, Norm norm, double eps, const bool* valid_t,
                  bool reverse, int64_t H, int64_t b0, int64_t b1) {
  const int64_t W = Vec<T>::size(), G = 4 * H;
  const bool ln = norm.gain_hh != nullptr;
  const T* gh = static_cast<const T*>(norm.gain_hh);
  const T* gc = static_cast<const T*>(norm.gain_c);
  const T* bc = static_cast<const T*>(norm.bias_c);
  for (int64_t b = b0; b < b1; ++b) {
    const T* x = xp + b * xp_stride;
    const T* a = p + b * G;
    T* gt = gates + b * G;
    if (ln) {
      T* an = static_cast<T*>(norm.an) + b * G;
      static_cast<T*>(norm.rs_a)[b] = normalise_row(a, an, G, eps);
      a = an;
    }
    for (int64_t q = 0; q < 4; ++q) {                 // the pre-activations, activated
      for (int64_t j = q * H; j < (q + 1) * H; j += W) {
        const int64_t k = std::min<int64_t>(W, (q + 1) * H - j);
        Vec<T> v = Vec<T>::loadu(a + j, k);
        if (ln) v = v * Vec<T>::loadu(gh + j, k);
        v = v + Vec<T>::loadu(x + j, k);
        if (b_hh != nullptr) v = v + Vec<T>::loadu(b_hh + j, k);
        (q == 2 ? v.tanh() : sigmoid(v)).store(gt + j, k);
      }
    }
    T* co = c_out + b * H;
    const T* cp = c_prev + b * H;
    for (int64_t j = 0; j < H; j += W) {              // c = f c_prev + i g
      const int64_t k = std::min<int64_t>(W, H - j);
      (Vec<T>::loadu(gt + H + j, k) * Vec<T>::loadu(cp + j, k) +
       Vec<T>::loadu(gt + j, k) * Vec<T>::loadu(gt + 2 * H + j, k)).store(co + j, k);
    }
    const T* cell = co;
    T* kk = ks + b * H;
    if (ln) {
      T* cn = static_cast<T*>(norm.cn) + b * H;
      static_cast<T*>(norm.rs_c)[b] = normalise_row(static_cast<const T*>(co), cn, H, eps);
      cell = cn;
    }
    T* ho = h_out + b * H;
    T* yo = y + b * y_stride;
    for (int64_t j = 0; j < H; j += W) {              // k = tanh(.), h = o k
      const int64_t k = std::min<int64_t>(W, H - j);
      Vec<T> v = Vec<T>::loadu(cell + j, k);
      if (ln) v = v * Vec<T>::loadu(gc + j, k);
      if (ln && bc != nullptr) v = v + Vec<T>::loadu(bc + j, k);
      const Vec<T> kv = v.tanh();
      kv.store(kk + j, k);
      const Vec<T> h = Vec<T>::loadu(gt + 3 * H + j, k) * kv;
      h.store(ho + j, k);
      h.store(yo + j, k);
    }
    if (valid_t != nullptr && !valid_t[b]) {
      std::fill(yo, yo + H, T(0));
      padded_state(ho, h0 + b * H, H, reverse);
      padded_state(co, c0 + b * H, H, reverse);
    }
  }
}

// One backward step, rows [b0, b1). dh = dy_t + m p (p = da_{t+1} W_hh), dc = the carried
// cell gradient; then, with q = gain_c * o (1 - k^2) dh (or o (1 - k^2) dh without layer norm),
//   dc += P_c(q) (or q),  dx = [dc g i(1-i), dc c_prev f(1-f), dc i(1-g^2), dh k o(1-o)],
//   da = P_a(gain_hh dx) (or dx),  dc_carry = dc f.
// dx goes to dxp (B, T, 4H), da to the chunk buffer; this thread's sums row gets
// [dx (4H), dx N(a) (4H), dLN(c) N(c) (H), dLN(c) (H)]: db_hh and the three gain gradients.
// A padded step contributes nothing: forward in time the carries restart at (dh_n, dc_n),
// reversed they pass on to (h0, c0).
template <typename T>
void backward_rows(const T* gates, const T* ks, const T* c_prev, const T* dy, int64_t dy_stride,
                   const T* p, const T* mask, const T* dh_n, const T* dc_n, T* carry_h,
                   T* carry_c, T* da, T* dxp, int64_t dxp_stride, T* sums, Norm norm,
                   T* scratch, const bool* valid_t, bool reverse, int64_t H, int64_t b0,
                   int64_t b1) {
  const int64_t W = Vec<T>::size(), G = 4 * H;
  const bool ln = norm.gain_hh != nullptr;
  const Vec<T> one(T(1));
  for (int64_t b = b0; b < b1; ++b) {
    T* a = da + b * G;
    T* dx = dxp + b * dxp_stride;
    T* ch = carry_h + b * H;
    T* cc = carry_c + b * H;
    const T* pb = p + b * H;
    const T* mb = mask == nullptr ? nullptr : mask + b * H;
    if (valid_t != nullptr && !valid_t[b]) {
      std::fill(a, a + G, T(0));
      std::fill(dx, dx + G, T(0));
      if (!reverse) {
        std::copy(dh_n + b * H, dh_n + (b + 1) * H, ch);
        std::copy(dc_n + b * H, dc_n + (b + 1) * H, cc);
      } else {
        for (int64_t j = 0; j < H; ++j) ch[j] += mb == nullptr ? pb[j] : mb[j] * pb[j];
      }
      continue;
    }
    const T* gt = gates + b * G;
    const T* kk = ks + b * H;
    const T* dyb = dy + b * dy_stride;
    // dh (into ch) and q = dL/d(cell input of tanh), into scratch
    T* q = scratch;                                    // H values per thread
    for (int64_t j = 0; j < H; j += W) {
      const int64_t k = std::min<int64_t>(W, H - j);
      Vec<T> pj = Vec<T>::loadu(pb + j, k);
      if (mb != nullptr) pj = pj * Vec<T>::loadu(mb + j, k);
      const Vec<T> dh = Vec<T>::loadu(dyb + j, k) + Vec<T>::loadu(ch + j, k) + pj;
      dh.store(ch + j, k);
      const Vec<T> kv = Vec<T>::loadu(kk + j, k);
      (dh * Vec<T>::loadu(gt + 3 * H + j, k) * (one - kv * kv)).store(q + j, k);
    }
    if (ln) {
      const T* cn = static_cast<const T*>(norm.cn) + b * H;
      const T* gc = static_cast<const T*>(norm.gain_c);
      T* s_gc = sums + 2 * G;
      T* s_bc = sums + 2 * G + H;
      for (int64_t j = 0; j < H; j += W) {            // gain_c, bias_c sums; q *= gain_c
        const int64_t k = std::min<int64_t>(W, H - j);
        const Vec<T> qv = Vec<T>::loadu(q + j, k);
        (Vec<T>::loadu(s_gc + j, k) + qv * Vec<T>::loadu(cn + j, k)).store(s_gc + j, k);
        (Vec<T>::loadu(s_bc + j, k) + qv).store(s_bc + j, k);
        (qv * Vec<T>::loadu(gc + j, k)).store(q + j, k);
      }
      layer_norm_backward_row(q, cn, static_cast<const T*>(norm.rs_c)[b], H);
    }
    const T* cp = c_prev + b * H;
    for (int64_t j = 0; j < H; j += W) {              // dx and the carries
      const int64_t k = std::min<int64_t>(W, H - j);
      const Vec<T> i = Vec<T>::loadu(gt + j, k), f = Vec<T>::loadu(gt + H + j, k);
      const Vec<T> g = Vec<T>::loadu(gt + 2 * H + j, k), o = Vec<T>::loadu(gt + 3 * H + j, k);
      const Vec<T> dc = Vec<T>::loadu(cc + j, k) + Vec<T>::loadu(q + j, k);
      const Vec<T> dh = Vec<T>::loadu(ch + j, k);
      (dc * g * i * (one - i)).store(dx + j, k);
      (dc * Vec<T>::loadu(cp + j, k) * f * (one - f)).store(dx + H + j, k);
      (dc * i * (one - g * g)).store(dx + 2 * H + j, k);
      (dh * Vec<T>::loadu(kk + j, k) * o * (one - o)).store(dx + 3 * H + j, k);
      (dc * f).store(cc + j, k);
      Vec<T>(T(0)).store(ch + j, k);                  // dh consumed; the next p adds to 0
    }
    const T* an = ln ? static_cast<const T*>(norm.an) + b * G : nullptr;
    const T* gh = static_cast<const T*>(norm.gain_hh);
    for (int64_t j = 0; j < G; j += W) {              // db_hh, gain_hh sums; da input
      const int64_t k = std::min<int64_t>(W, G - j);
      const Vec<T> d = Vec<T>::loadu(dx + j, k);
      (Vec<T>::loadu(sums + j, k) + d).store(sums + j, k);
      if (ln) {
        (Vec<T>::loadu(sums + G + j, k) + d * Vec<T>::loadu(an + j, k)).store(sums + G + j, k);
        (d * Vec<T>::loadu(gh + j, k)).store(a + j, k);
      } else {
        d.store(a + j, k);
      }
    }
    if (ln) layer_norm_backward_row(a, an, static_cast<const T*>(norm.rs_a)[b], G);
  }
}

template <typename T>
Norm step_norm(const std::optional<Tensor>& gain_hh, const std::optional<Tensor>& gain_c,
               const std::optional<Tensor>& bias_c, const std::optional<Tensor>& an,
               const std::optional<Tensor>& rs_a, const std::optional<Tensor>& cn,
               const std::optional<Tensor>& rs_c, int64_t t) {
  Norm n;
  if (!gain_hh.has_value()) return n;
  const int64_t B = an->size(1), H = cn->size(2);
  n.gain_hh = gain_hh->data_ptr<T>();
  n.gain_c = gain_c->data_ptr<T>();
  n.bias_c = bias_c.has_value() ? bias_c->data_ptr<T>() : nullptr;
  n.an = an->data_ptr<T>() + t * B * 4 * H;
  n.rs_a = rs_a->data_ptr<T>() + t * B;
  n.cn = cn->data_ptr<T>() + t * B * H;
  n.rs_c = rs_c->data_ptr<T>() + t * B;
  return n;
}

// The forward loop (explicit_lstm.ExplicitLSTM.forward): xp (B, T, 4H) contiguous with b_ih;
// y (B, T, H) written; the saved buffers filled. Layer norm when gain_hh is given (then an,
// rs_a, cn, rs_c are required).
void forward(Tensor xp, std::optional<Tensor> b_hh, Tensor y, Tensor gates, Tensor ks,
             Tensor hs, Tensor cs, Tensor weight, bool packed, std::optional<Tensor> mask,
             std::optional<Tensor> us, std::optional<Tensor> valid, bool reverse,
             std::optional<Tensor> gain_hh, std::optional<Tensor> gain_c,
             std::optional<Tensor> bias_c, std::optional<Tensor> an, std::optional<Tensor> rs_a,
             std::optional<Tensor> cn, std::optional<Tensor> rs_c, double eps) {
  const int64_t T = gates.size(0), B = gates.size(1), H = ks.size(2);
  const Product product{weight, packed};
  const Tensor h0 = hs[reverse ? T : 0], c0 = cs[reverse ? T : 0];
  Tensor buffer = gates.new_empty({B, 4 * H});
  forward_steps(T, reverse, [&](int64_t t, int64_t read, int64_t write) {
    const Tensor prev = hs[read];
    const Tensor p = step_product(product, buffer, prev, mask, us, t);
    const bool* valid_t = valid_row(valid, t);
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_forward", [&] {
      using T_ = scalar_t;
      const Norm norm = step_norm<T_>(gain_hh, gain_c, bias_c, an, rs_a, cn, rs_c, t);
      const T_* x = xp.data_ptr<T_>() + t * 4 * H;
      const T_* pp = p.data_ptr<T_>();
      const T_* bh = b_hh.has_value() ? b_hh->data_ptr<T_>() : nullptr;
      const T_* hp = hs.data_ptr<T_>() + read * B * H;
      const T_* cp = cs.data_ptr<T_>() + read * B * H;
      T_* g = gates.data_ptr<T_>() + t * B * 4 * H;
      T_* kk = ks.data_ptr<T_>() + t * B * H;
      T_* ho = hs.data_ptr<T_>() + write * B * H;
      T_* co = cs.data_ptr<T_>() + write * B * H;
      T_* yo = y.data_ptr<T_>() + t * H;
      const T_* h0p = h0.data_ptr<T_>();
      const T_* c0p = c0.data_ptr<T_>();
      at::parallel_for(0, B, row_grain(4 * H), [&](int64_t b0, int64_t b1) {
        forward_rows<T_>(x, T * 4 * H, pp, bh, hp, cp, g, kk, ho, co, yo, T * H, h0p, c0p, norm,
                         eps, valid_t, reverse, H, b0, b1);
      });
    });
  });
}

// The backward loop (ExplicitLSTM.backward): dy (B, T, H) contiguous, dh_n and dc_n (B, H) in;
// dxp (B, T, 4H) written; dw (4H, H) accumulated; returns [dh0, dc0, sums (10H,)] with sums =
// [db_hh (4H), d gain_hh (4H), d gain_c (H), d bias_c (H)]. da (Tc, B, 4H) is scratch: Tc steps
// per weight-gradient product.
std::vector<Tensor> backward(Tensor gates, Tensor ks, Tensor hs, Tensor cs, Tensor dy,
                             Tensor dh_n, Tensor dc_n, Tensor dxp, Tensor dw, Tensor weight,
                             bool packed, std::optional<Tensor> mask, std::optional<Tensor> us,
                             std::optional<Tensor> valid, bool reverse,
                             std::optional<Tensor> gain_hh, std::optional<Tensor> gain_c,
                             std::optional<Tensor> bias_c, std::optional<Tensor> an,
                             std::optional<Tensor> rs_a, std::optional<Tensor> cn,
                             std::optional<Tensor> rs_c, Tensor da) {
  const int64_t T = gates.size(0), B = gates.size(1), H = ks.size(2);
  const Product product{weight, packed};
  const int64_t chunk = da.size(0);
  TORCH_CHECK(chunk >= 1 && da.size(1) == B && da.size(2) == 4 * H, "da must be (Tc, B, 4H)");
  Tensor carry_h = dh_n.clone(), carry_c = dc_n.clone();
  Tensor buffer = gates.new_empty({B, H});
  Tensor p = gates.new_zeros({B, H});
  const int64_t threads = at::get_num_threads();
  Tensor sums = gates.new_zeros({threads, 10 * H});
  Tensor scratch = gates.new_empty({threads, H});
  const int64_t read_off = reverse ? 1 : 0;
  backward_steps(T, chunk, reverse, [&](int64_t i, int64_t t) {
    Tensor da_t = da[i];
    const bool* valid_t = valid_row(valid, t);
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_lstm_backward", [&] {
      using T_ = scalar_t;
      const Norm norm = step_norm<T_>(gain_hh, gain_c, bias_c, an, rs_a, cn, rs_c, t);
      const T_* g = gates.data_ptr<T_>() + t * B * 4 * H;
      const T_* kk = ks.data_ptr<T_>() + t * B * H;
      const T_* cp = cs.data_ptr<T_>() + (t + read_off) * B * H;
      const T_* dyp = dy.data_ptr<T_>() + t * H;
      const T_* pp = p.data_ptr<T_>();
      const T_* mp = mask.has_value() ? mask->data_ptr<T_>() : nullptr;
      T_* ch = carry_h.data_ptr<T_>();
      T_* cc = carry_c.data_ptr<T_>();
      T_* a = da_t.data_ptr<T_>();
      T_* dx = dxp.data_ptr<T_>() + t * 4 * H;
      T_* sp = sums.data_ptr<T_>();
      T_* sc = scratch.data_ptr<T_>();
      at::parallel_for(0, B, row_grain(4 * H), [&](int64_t b0, int64_t b1) {
        const int64_t me = at::get_thread_num();
        backward_rows<T_>(g, kk, cp, dyp, T * H, pp, mp, dh_n.data_ptr<T_>(),
                          dc_n.data_ptr<T_>(), ch, cc, a, dx, T * 4 * H, sp + me * 10 * H,
                          norm, sc + me * H, valid_t, reverse, H, b0, b1);
      });
    });
    p = product.into(buffer, da_t);
  }, [&](int64_t t0, int64_t t1) { add_weight_grad(dw, da, t0, t1, hs, us, read_off); });
  return {add_last_product(carry_h, p, mask), carry_c, sums.sum(0)};
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "rnnkit's compiled LSTM time loops (see rnnkit/nn/fast/native.py)";
  m.def("forward", &forward, "LSTM forward loop, in place");
  m.def("backward", &backward, "LSTM backward loop, in place");
}
