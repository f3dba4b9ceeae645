#include "codec/timestamp.h"

namespace sluice::codec {

namespace {

// Days since 1970-01-01 to a civil date (H. Hinnant, "chrono-compatible
// low-level date algorithms").
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

void put(char*& p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  p += width;
}

} // namespace

void append_timestamp(std::string& out, int64_t us) {
  int64_t ms = us >= 0 ? us / 1000 : (us - 999) / 1000;
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto milli = static_cast<unsigned>(ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  auto sod = static_cast<unsigned>(secs - days * 86400);
  int64_t year;
  unsigned month, day;
  civil_from_days(days, year, month, day);
  if (year < 0 || year > 9999)
    year = year < 0 ? 0 : 9999; // outside RFC 3339; clamp rather than emit garbage

  char buf[24];
  char* p = buf;
  put(p, static_cast<unsigned>(year), 4);
  *p++ = '-';
  put(p, month, 2);
  *p++ = '-';
  put(p, day, 2);
  *p++ = 'T';
  put(p, sod / 3600, 2);
  *p++ = ':';
  put(p, sod / 60 % 60, 2);
  *p++ = ':';
  put(p, sod % 60, 2);
  *p++ = '.';
  put(p, milli, 3);
  *p++ = 'Z';
  out.append(buf, p);
}

} // namespace sluice::codec
