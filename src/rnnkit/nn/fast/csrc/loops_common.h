// What rnnkit's compiled time loops share (gru_loops.cpp, lstm_loops.cpp): the per-step
// recurrent product, the vector type and its sigmoid, the row split, and the validity rows.
#pragma once

#include <torch/extension.h>

#include <ATen/Parallel.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rnnkit {

using at::Tensor;

template <typename T>
using Vec = at::vec::Vectorized<T>;

// h (B, cols) @ W^T (cols -> rows), with W given as Python's RecurrentProduct holds it: packed
// by oneDNN (mkldnn::_linear_pointwise) or as W^T (cols, rows) for mm. `packed` is true only once
// Python's onednn.available() has run that op here, so the lookup below, made on first use of a
// packed weight, finds it; where the op is missing, Python passes W^T and mm runs.
struct Product {
  Tensor weight;
  bool packed;

  // h @ W^T: written into `out` by mm's kernel, or a new tensor from oneDNN's packed linear.
  Tensor into(Tensor& out, const Tensor& h) const {
    if (!packed) return at::mm_out(out, h, weight);
    static const auto op = c10::Dispatcher::singleton().findSchemaOrThrow(
        "mkldnn::_linear_pointwise", "");
    torch::jit::Stack stack;
    torch::jit::push(stack, h, weight, c10::IValue(), std::string("none"),
                     std::vector<std::optional<c10::Scalar>>(), std::string(""));
    op.callBoxed(&stack);
    return stack.back().toTensor();
  }
};

template <typename T>
inline Vec<T> sigmoid(const Vec<T>& x) {
  const Vec<T> one(T(1));
  return one / (one + x.neg().exp());
}

// Rows whose tile is at least this many elements are split across threads.
constexpr int64_t kGrain = 4096;

inline int64_t row_grain(int64_t width) { return std::max<int64_t>(1, kGrain / width); }

// A padded step of one row (its validity is false): its output is zero, and the state it passes
// on is the initial state when reading backwards (the row has not started yet) or zero when
// reading forwards (the row has ended; the final state was taken at its last real step).
template <typename T>
inline void padded_state(T* state, const T* initial, int64_t H, bool reverse) {
  if (reverse) {
    std::copy(initial, initial + H, state);
  } else {
    std::fill(state, state + H, T(0));
  }
}

// Step t's row of the (T, B) validity mask, or null without lengths.
inline const bool* valid_row(const std::optional<Tensor>& valid, int64_t t) {
  return valid.has_value() ? valid->data_ptr<bool>() + t * valid->size(1) : nullptr;
}

// Step t's recurrent product from the state it reads: (m * h_prev) W^T under variational
// dropout (u_t = m * h_prev is saved in us for the weight gradient), else h_prev W^T.
inline Tensor step_product(const Product& product, Tensor& buffer, const Tensor& prev,
                           const std::optional<Tensor>& mask, const std::optional<Tensor>& us,
                           int64_t t) {
  if (!mask.has_value()) return product.into(buffer, prev);
  Tensor u = (*us)[t];
  at::mul_out(u, prev, *mask);
  return product.into(buffer, u);
}

// Calls step(t, read, write) for every step t in forward order (reversed: from T-1 down):
// step t reads state slot `read` and writes slot `write` (explicit_common.py's buffer layout).
template <typename Step>
inline void forward_steps(int64_t T, bool reverse, Step step) {
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse ? T - 1 - s : s;
    step(t, reverse ? t + 1 : t, reverse ? t : t + 1);
  }
}

// Window w of the backward's time windows [t0, t1) of `chunk` steps, in backward order:
// descending forward in time, ascending reversed.
inline std::pair<int64_t, int64_t> window(int64_t w, int64_t T, int64_t chunk, bool reverse) {
  const int64_t windows = (T + chunk - 1) / chunk;
  const int64_t t0 = (reverse ? w : windows - 1 - w) * chunk;
  return {t0, std::min(t0 + chunk, T)};
}

// Calls step(i, t) for every step t in backward order, i being its row in the window's da
// buffer, and done(t0, t1) after each window.
template <typename Step, typename Done>
inline void backward_steps(int64_t T, int64_t chunk, bool reverse, Step step, Done done) {
  for (int64_t w = 0; w < (T + chunk - 1) / chunk; ++w) {
    const auto [t0, t1] = window(w, T, chunk, reverse);
    for (int64_t s = 0; s < t1 - t0; ++s) {
      const int64_t i = reverse ? s : t1 - t0 - 1 - s;
      step(i, t0 + i);
    }
    done(t0, t1);
  }
}

// dW += da^T u over one window: da (Tc, B, G) holds its steps from row 0, u is what W_hh
// multiplied (us, or the states read: hs shifted by read_off). ONE (G, Tc*B) @ (Tc*B, H) product.
inline void add_weight_grad(Tensor& dw, const Tensor& da, int64_t t0, int64_t t1,
                            const Tensor& hs, const std::optional<Tensor>& us,
                            int64_t read_off) {
  const int64_t G = da.size(2), H = hs.size(2);
  const Tensor da_w = da.narrow(0, 0, t1 - t0).view({-1, G});
  const Tensor u = us.has_value() ? us->narrow(0, t0, t1 - t0)
                                  : hs.narrow(0, t0 + read_off, t1 - t0);
  dw.addmm_(da_w.t(), u.reshape({-1, H}));
}

// After the last backward step: dh0 = carry + m * p, p = da_0 W_hh.
inline Tensor add_last_product(Tensor carry, const Tensor& p, const std::optional<Tensor>& mask) {
  return mask.has_value() ? carry.addcmul_(p, *mask) : carry.add_(p);
}

}  // namespace rnnkit
