// JSON string literals for the tool's outputs (nlc classify --json, nlc serve).
#pragma once

#include <cstdio>
#include <string>

namespace nlc_cli {

// s as a JSON string literal, quotes included (UTF-8 passed through; quotes, backslashes and
// control characters escaped).
inline std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += char(c);
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += char(c);
    }
  }
  return o + "\"";
}

}  // namespace nlc_cli
