// Money: a JSON number with at most two fraction digits, held as integer cents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sluice::codec {

/// An amount of money in integer cents; JSON renders it with two decimals.
struct money {
  int64_t cents = 0;
  friend bool operator==(money, money) = default;
};

/// Largest amount sluice accepts, in cents (9,999,999,999,999.99). Sums of
/// many such amounts still fit an int64 with room to spare.
inline constexpr int64_t k_max_money_cents = 999'999'999'999'999;

/// Exact cents for `value`, or nullopt when it has more than two fraction
/// digits, is not finite, or exceeds k_max_money_cents in magnitude.
/// Exact because the double nearest a two-digit decimal below 2^53/100 is
/// unique: `value` qualifies iff cents / 100.0 rounds back to it.
std::optional<int64_t> money_from_double(double value);

/// Appends cents as a JSON number with two decimals ("1059.97", "-0.50").
void append_money(std::string& out, int64_t cents);

} // namespace sluice::codec
