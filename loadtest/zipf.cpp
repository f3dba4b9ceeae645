#include "zipf.h"

#include <algorithm>
#include <cmath>

namespace sluice::load {

namespace {

// log1p(x)/x and expm1(x)/x, with their series near 0 where the quotient
// loses precision.
double log1p_over(double x) {
  return std::abs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}
double expm1_over(double x) {
  return std::abs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
}

} // namespace

key_chooser::key_chooser(uint64_t n, double skew) : n_(std::max<uint64_t>(n, 1)), s_(skew) {
  if (s_ <= 0)
    return;
  h_integral_x1_ = h_integral(1.5) - 1.0;
  h_integral_n_ = h_integral(static_cast<double>(n_) + 0.5);
  s_param_ = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
}

double key_chooser::h(double x) const { return std::exp(-s_ * std::log(x)); }

double key_chooser::h_integral(double x) const {
  double lx = std::log(x);
  return expm1_over((1.0 - s_) * lx) * lx;
}

double key_chooser::h_integral_inverse(double x) const {
  double t = std::max(x * (1.0 - s_), -1.0);
  return std::exp(log1p_over(t) * x);
}

uint64_t key_chooser::operator()(std::mt19937_64& rng) const {
  if (s_ <= 0)
    return std::uniform_int_distribution<uint64_t>(0, n_ - 1)(rng);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (;;) {
    double u = h_integral_n_ + unit(rng) * (h_integral_x1_ - h_integral_n_);
    double x = h_integral_inverse(u);
    auto k = static_cast<uint64_t>(std::clamp(x + 0.5, 1.0, static_cast<double>(n_)));
    if (static_cast<double>(k) - x <= s_param_ || u >= h_integral(static_cast<double>(k) + 0.5) - h(static_cast<double>(k)))
      return k - 1;
  }
}

} // namespace sluice::load
