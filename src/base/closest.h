// "Did you mean …?": the known name nearest to a misspelt one, so that an
// error can say what was meant, not only what was wrong.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice {

/// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`,
/// at most `limit + 1` (the count stops there). Optimal string alignment.
inline size_t edit_distance(std::string_view a, std::string_view b, size_t limit = 8) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit)
    return limit + 1;
  std::vector<size_t> back2(b.size() + 1), back(b.size() + 1), row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    back[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    row[0] = i;
    size_t best = row[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({back[j] + 1, row[j - 1] + 1, back[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        row[j] = std::min(row[j], back2[j - 2] + 1);
      best = std::min(best, row[j]);
    }
    if (best > limit)
      return limit + 1;
    std::swap(back2, back);
    std::swap(back, row);
  }
  return std::min(back[b.size()], limit + 1);
}

/// The candidate a typo of `word` most likely meant: the nearest within a
/// third of the longer name's length (at least 1 edit, at most 3), or none.
template <class Range>
std::optional<std::string> closest(std::string_view word, const Range& candidates) {
  std::optional<std::string> best;
  size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    std::string_view name(c);
    size_t limit = std::clamp<size_t>(std::max(word.size(), name.size()) / 3, 1, 3);
    size_t d = edit_distance(word, name, limit);
    if (d <= limit && d < best_distance) {
      best_distance = d;
      best.emplace(name);
    }
  }
  return best;
}

/// `names` as "a, b, c" (for "… expected one of: a, b, c").
template <class Range>
std::string join_names(const Range& names, std::string_view separator = ", ") {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty())
      out.append(separator);
    out.append(std::string_view(n));
  }
  return out;
}

/// " (did you mean 'x'?)" when one of `candidates` is close to `word`, else "".
template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
  auto c = closest(word, candidates);
  return c ? " (did you mean '" + *c + "'?)" : std::string();
}

} // namespace sluice
