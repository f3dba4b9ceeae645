// Key choice for the load driver: uniform, or Zipf-distributed with a skew
// (rank 1 hottest). Zipf sampling is Hörmann and Derflinger's
// rejection-inversion: O(1) per sample and no table, so a million keys cost
// nothing to set up.
#pragma once

#include <cstdint>
#include <random>

namespace sluice::load {

class key_chooser {
 public:
  /// `skew` 0 means uniform. Keys are 0 … n-1.
  key_chooser(uint64_t n, double skew);

  uint64_t operator()(std::mt19937_64& rng) const;

  uint64_t size() const { return n_; }

 private:
  double h(double x) const;
  double h_integral(double x) const;
  double h_integral_inverse(double x) const;

  uint64_t n_;
  double s_;
  double h_integral_x1_ = 0;
  double h_integral_n_ = 0;
  double s_param_ = 0;
};

} // namespace sluice::load
