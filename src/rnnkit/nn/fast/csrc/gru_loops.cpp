// The two time loops of rnnkit's explicit-BPTT GRU (rnnkit/nn/fast/explicit_gru.py), compiled.
//
// Python drives the same loops one op at a time: four elementwise ops per step forward and two
// backward, each dispatched from the interpreter on a (B, 3H) or (B, H) tile small enough that
// torch runs it on one thread, plus layout copies between batch- and time-major buffers. Here
// each step is its recurrent product plus ONE fused pass over the tile (vectorised with ATen's
// Vectorized<T>, whose exp/tanh are SLEEF's 1-ulp versions, split over the batch rows with
// at::parallel_for) that reads the batch-major inputs (xp, dy) and writes the batch-major
// outputs (y, dxp) in place, so no transposing copy remains. The equations are those of
// explicit_gru.py's docstring; its Python loops are the reference these are tested against
// (tests/test_native_gru.py).
//
// Saved buffers, all time-major: gates (T, B, 3H) = [r, z, a^n] (a^n = W_hn h_{t-1} + b_hn);
// cand (T, B, H) = n; hs (T+1, B, H) the state buffer (explicit_common.py: h0 in slot 0, or in
// slot T reversed); us (T, B, H) = m * h_{t-1} under variational dropout (mask m (B, H) on
// h_{t-1} where it enters W_hh). valid (T, B) bool marks real steps (right-padded lengths).
#include "loops_common.h"

namespace {

using namespace rnnkit;

// One forward step's elementwise work, rows [b0, b1), from x = x_t W_ih^T (3H per row) and
// p = h_prev W_hh^T (B, 3H), with bias = [b_ih^r + b_hh^r, b_ih^z + b_hh^z, b_hh^n, b_ih^n]:
//   r = sigmoid(x^r + p^r + b^r), z = sigmoid(x^z + p^z + b^z), a^n = p^n + b_hh^n,
//   n = tanh(x^n + b_ih^n + r a^n), h = n + z (h_prev - n).
// Saves [r, z, a^n] and n; writes h to the state buffer and to y (B, T, H). At a padded step
// (valid_t[b] == false) y is 0 and the state slot holds h0 reversed, 0 forward (no real step
// reads it), as explicit_common.finish_forward leaves it.
template <typename T>
void forward_rows(const T* xp, int64_t xp_stride, const T* p, const T* bias, const T* prev,
                  T* gates, T* cand, T* state, T* y, int64_t y_stride, const T* h0,
                  const bool* valid_t, bool reverse, int64_t H, int64_t b0, int64_t b1) {
  using V = at::vec::Vectorized<T>;
  const int64_t W = V::size();
  for (int64_t b = b0; b < b1; ++b) {
    const T* x = xp + b * xp_stride;
    const T* pb = p + b * 3 * H;
    const T* hp = prev + b * H;
    T* g = gates + b * 3 * H;
    T* c = cand + b * H;
    T* ho = state + b * H;
    T* yo = y + b * y_stride;
    for (int64_t j = 0; j < H; j += W) {
      const int64_t k = std::min<int64_t>(W, H - j);
      const V r = sigmoid(V::loadu(x + j, k) + V::loadu(pb + j, k) + V::loadu(bias + j, k));
      const V z = sigmoid(V::loadu(x + H + j, k) + V::loadu(pb + H + j, k) +
                          V::loadu(bias + H + j, k));
      const V a_n = V::loadu(pb + 2 * H + j, k) + V::loadu(bias + 2 * H + j, k);
      const V n = (V::loadu(x + 2 * H + j, k) + V::loadu(bias + 3 * H + j, k) + r * a_n).tanh();
      const V h = n + z * (V::loadu(hp + j, k) - n);
      r.store(g + j, k);
      z.store(g + H + j, k);
      a_n.store(g + 2 * H + j, k);
      n.store(c + j, k);
      h.store(ho + j, k);
      h.store(yo + j, k);
    }
    if (valid_t != nullptr && !valid_t[b]) {
      std::fill(yo, yo + H, T(0));
      padded_state(ho, h0 + b * H, H, reverse);
    }
  }
}

// One backward step's elementwise work, rows [b0, b1). The gradient w.r.t. h_t is
//   g = dy_t + carry + m * p,  p = da_{t+1} W_hh (the previous step's product),
//   carry = g_{t+1} z_{t+1} (m = 1 without variational dropout); then
//   c^n = g (1 - z)(1 - n^2) = dx^n,  da^n = c^n r,  da^r = dx^r = c^n a^n r (1 - r),
//   da^z = dx^z = g (h_prev - n) z (1 - z),  carry = g z.
// da goes to the chunk buffer (the next product's and the weight gradient's operand),
// [da^r, da^z, dx^n] to dxp (B, T, 3H), and [dx, da^n] is added to this thread's row of sums
// (the bias gradients: db_ih = sum dx, db_hh = [sum dx^r, sum dx^z, sum da^n]). A padded step
// contributes nothing: forward in time the carry restarts at dh_n (the sequence's last real step
// is next), reversed the gradient that reaches the h0 copy is passed on to h0.
template <typename T>
void backward_rows(const T* gates, const T* cand, const T* prev, const T* dy, int64_t dy_stride,
                   const T* p, const T* mask, const T* dh_n, T* carry, T* da, T* dxp,
                   int64_t dxp_stride, T* sums, const bool* valid_t, bool reverse, int64_t H,
                   int64_t b0, int64_t b1) {
  using V = at::vec::Vectorized<T>;
  const int64_t W = V::size();
  const V one(T(1));
  for (int64_t b = b0; b < b1; ++b) {
    T* a = da + b * 3 * H;
    T* dx = dxp + b * dxp_stride;
    T* cz = carry + b * H;
    const T* pb = p + b * H;
    const T* mb = mask == nullptr ? nullptr : mask + b * H;
    if (valid_t != nullptr && !valid_t[b]) {
      std::fill(a, a + 3 * H, T(0));
      std::fill(dx, dx + 3 * H, T(0));
      if (!reverse) {
        std::copy(dh_n + b * H, dh_n + (b + 1) * H, cz);
      } else {
        for (int64_t j = 0; j < H; ++j) cz[j] += mb == nullptr ? pb[j] : mb[j] * pb[j];
      }
      continue;
    }
    const T* s = gates + b * 3 * H;
    const T* nn = cand + b * H;
    const T* hp = prev + b * H;
    const T* dyb = dy + b * dy_stride;
    for (int64_t j = 0; j < H; j += W) {
      const int64_t k = std::min<int64_t>(W, H - j);
      const V r = V::loadu(s + j, k), z = V::loadu(s + H + j, k);
      const V a_n = V::loadu(s + 2 * H + j, k), n = V::loadu(nn + j, k);
      V pj = V::loadu(pb + j, k);
      if (mb != nullptr) pj = pj * V::loadu(mb + j, k);
      const V gt = V::loadu(dyb + j, k) + V::loadu(cz + j, k) + pj;
      const V c_n = gt * (one - z) * (one - n * n);
      const V da_r = c_n * a_n * r * (one - r);
      const V da_z = gt * (V::loadu(hp + j, k) - n) * z * (one - z);
      const V da_n = c_n * r;
      (gt * z).store(cz + j, k);
      da_r.store(a + j, k);
      da_z.store(a + H + j, k);
      da_n.store(a + 2 * H + j, k);
      da_r.store(dx + j, k);
      da_z.store(dx + H + j, k);
      c_n.store(dx + 2 * H + j, k);
      (V::loadu(sums + j, k) + da_r).store(sums + j, k);             // db: [dx, da^n] summed
      (V::loadu(sums + H + j, k) + da_z).store(sums + H + j, k);
      (V::loadu(sums + 2 * H + j, k) + c_n).store(sums + 2 * H + j, k);
      (V::loadu(sums + 3 * H + j, k) + da_n).store(sums + 3 * H + j, k);
    }
  }
}

// The forward loop over all T steps (explicit_gru.ExplicitGRU.forward): xp (B, T, 3H)
// contiguous, bias (4H,) as forward_rows reads it; y (B, T, H) written; gates, cand, hs (and us)
// filled for the backward.
void forward(Tensor xp, Tensor bias, Tensor y, Tensor gates, Tensor cand, Tensor hs,
             Tensor weight, bool packed, std::optional<Tensor> mask, std::optional<Tensor> us,
             std::optional<Tensor> valid, bool reverse) {
  const int64_t T = gates.size(0), B = gates.size(1), H = cand.size(2);
  const Product product{weight, packed};
  const Tensor h0 = hs[reverse ? T : 0];
  Tensor buffer = gates.new_empty({B, 3 * H});
  forward_steps(T, reverse, [&](int64_t t, int64_t read, int64_t write) {
    const Tensor prev = hs[read];
    const Tensor p = step_product(product, buffer, prev, mask, us, t);
    const bool* valid_t = valid_row(valid, t);
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_gru_forward", [&] {
      const scalar_t* x = xp.data_ptr<scalar_t>() + t * 3 * H;
      const scalar_t* pp = p.data_ptr<scalar_t>();
      const scalar_t* bp = bias.data_ptr<scalar_t>();
      const scalar_t* hp = prev.data_ptr<scalar_t>();
      scalar_t* g = gates.data_ptr<scalar_t>() + t * B * 3 * H;
      scalar_t* c = cand.data_ptr<scalar_t>() + t * B * H;
      scalar_t* ho = hs.data_ptr<scalar_t>() + write * B * H;
      scalar_t* yo = y.data_ptr<scalar_t>() + t * H;
      const scalar_t* h0p = h0.data_ptr<scalar_t>();
      at::parallel_for(0, B, row_grain(3 * H), [&](int64_t b0, int64_t b1) {
        forward_rows<scalar_t>(x, T * 3 * H, pp, bp, hp, g, c, ho, yo, T * H, h0p, valid_t,
                               reverse, H, b0, b1);
      });
    });
  });
}

// The backward loop (ExplicitGRU.backward): dy (B, T, H) contiguous and dh_n (B, H) in;
// dxp (B, T, 3H) written; dw (3H, H) accumulated; returns [dh0 (B, H), sums (4H,)] with
// sums = [db_ih (3H), db_hh^n (H)] (db_hh^r, db_hh^z equal db_ih's). weight is
// W_hh as RecurrentProduct(W_hh^T) holds it. da (Tc, B, 3H) is scratch: Tc steps of da per
// weight-gradient product.
std::vector<Tensor> backward(Tensor gates, Tensor cand, Tensor hs, Tensor dy, Tensor dh_n,
                             Tensor dxp, Tensor dw, Tensor weight, bool packed,
                             std::optional<Tensor> mask, std::optional<Tensor> us,
                             std::optional<Tensor> valid, bool reverse, Tensor da) {
  const int64_t T = gates.size(0), B = gates.size(1), H = cand.size(2);
  const Product product{weight, packed};
  const int64_t chunk = da.size(0);
  TORCH_CHECK(chunk >= 1 && da.size(1) == B && da.size(2) == 3 * H, "da must be (Tc, B, 3H)");
  Tensor carry = dh_n.clone();
  Tensor buffer = gates.new_empty({B, H});
  Tensor p = gates.new_zeros({B, H});                 // da_{t+1} W_hh, none before the first step
  Tensor sums = gates.new_zeros({at::get_num_threads(), 4 * H});      // per thread
  const int64_t read_off = reverse ? 1 : 0;
  backward_steps(T, chunk, reverse, [&](int64_t i, int64_t t) {
    Tensor da_t = da[i];
    const bool* valid_t = valid_row(valid, t);
    AT_DISPATCH_FLOATING_TYPES(gates.scalar_type(), "rnnkit_gru_backward", [&] {
      const scalar_t* s_p = gates.data_ptr<scalar_t>() + t * B * 3 * H;
      const scalar_t* n_p = cand.data_ptr<scalar_t>() + t * B * H;
      const scalar_t* hp = hs.data_ptr<scalar_t>() + (t + read_off) * B * H;
      const scalar_t* dyp = dy.data_ptr<scalar_t>() + t * H;
      const scalar_t* pp = p.data_ptr<scalar_t>();
      const scalar_t* mp = mask.has_value() ? mask->data_ptr<scalar_t>() : nullptr;
      const scalar_t* dhp = dh_n.data_ptr<scalar_t>();
      scalar_t* cz = carry.data_ptr<scalar_t>();
      scalar_t* a = da_t.data_ptr<scalar_t>();
      scalar_t* dx = dxp.data_ptr<scalar_t>() + t * 3 * H;
      scalar_t* sp = sums.data_ptr<scalar_t>();
      at::parallel_for(0, B, row_grain(3 * H), [&](int64_t b0, int64_t b1) {
        backward_rows<scalar_t>(s_p, n_p, hp, dyp, T * H, pp, mp, dhp, cz, a, dx, T * 3 * H,
                                sp + at::get_thread_num() * 4 * H, valid_t, reverse, H, b0,
                                b1);
      });
    });
    p = product.into(buffer, da_t);
  }, [&](int64_t t0, int64_t t1) { add_weight_grad(dw, da, t0, t1, hs, us, read_off); });
  return {add_last_product(carry, p, mask), sums.sum(0)};     // dh0 = g_{-1}
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "rnnkit's compiled GRU time loops (see rnnkit/nn/fast/native.py)";
  m.def("forward", &forward, "GRU forward loop, in place");
  m.def("backward", &backward, "GRU backward loop, in place");
}
