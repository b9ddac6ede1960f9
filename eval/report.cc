#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <stdexcept>

namespace nlc::eval {

void average(Curve& c) {
  c.bpp.clear(), c.psnr.clear(), c.ms_ssim.clear(), c.encode_ms.clear(), c.decode_ms.clear();
  for (double q : c.quality) {
    double n = 0, bpp = 0, psnr = 0, ms = 0, enc = 0, dec = 0;
    for (const Sample& s : c.samples)
      if (s.quality == q) {
        n += 1, bpp += s.bpp, psnr += s.psnr, ms += s.ms_ssim, enc += s.encode_ms,
            dec += s.decode_ms;
      }
    c.bpp.push_back(bpp / n);
    c.psnr.push_back(psnr / n);
    c.ms_ssim.push_back(ms / n);  // NaN if any image was too small for MS-SSIM
    c.encode_ms.push_back(enc / n);
    c.decode_ms.push_back(dec / n);
  }
}

namespace {

std::string num(double v, int digits = 6) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

std::string str(const std::string& s) {
  std::string o = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += ch;
    } else if (c < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += ch;
    }
  }
  return o + "\"";
}

std::string array(const std::vector<double>& v) {
  std::string o = "[";
  for (size_t i = 0; i < v.size(); ++i) o += (i ? ", " : "") + num(v[i]);
  return o + "]";
}

std::string xml(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return o;
}

}  // namespace

std::string to_json(const Report& r) {
  std::ostringstream o;
  o << "{\n  \"tool\": \"nlc eval\",\n  \"date\": " << str(r.date)
    << ",\n  \"machine\": " << str(r.machine) << ",\n  \"label\": " << str(r.label)
    << ",\n  \"dataset\": " << str(r.dataset) << ",\n  \"images\": " << r.images
    << ",\n  \"model\": " << str(r.model) << ",\n  \"codecs\": {";
  for (size_t k = 0; k < r.curves.size(); ++k) {
    const Curve& c = r.curves[k];
    o << (k ? "," : "") << "\n    " << str(c.name) << ": {\n      \"library\": " << str(c.library)
      << ",\n      \"setting\": " << str(c.setting) << ",\n      \"quality\": " << array(c.quality)
      << ",\n      \"bpp\": " << array(c.bpp) << ",\n      \"psnr_rgb\": " << array(c.psnr)
      << ",\n      \"ms_ssim\": " << array(c.ms_ssim)
      << ",\n      \"encode_ms\": " << array(c.encode_ms)
      << ",\n      \"decode_ms\": " << array(c.decode_ms) << ",\n      \"per_image\": [";
    for (size_t i = 0; i < c.samples.size(); ++i) {
      const Sample& s = c.samples[i];
      o << (i ? "," : "") << "\n        {\"image\": " << str(s.image)
        << ", \"quality\": " << num(s.quality) << ", \"bytes\": " << s.bytes
        << ", \"bpp\": " << num(s.bpp) << ", \"psnr_rgb\": " << num(s.psnr)
        << ", \"ms_ssim\": " << num(s.ms_ssim) << ", \"encode_ms\": " << num(s.encode_ms)
        << ", \"decode_ms\": " << num(s.decode_ms) << "}";
    }
    o << "\n      ]\n    }";
  }
  o << "\n  },\n  \"bd_rate_of_nlc_percent\": {";
  size_t k = 0;
  for (const auto& [anchor, v] : r.bd_rate) {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    const bool numeric = !v.empty() && end && !*end;
    o << (k++ ? "," : "") << "\n    " << str(anchor) << ": " << (numeric ? v : str(v));
  }
  o << "\n  }\n}\n";
  return o.str();
}

std::string to_csv(const Report& r) {
  std::ostringstream o;
  o << "codec,quality,image,bytes,bpp,psnr_rgb,ms_ssim,encode_ms,decode_ms\n";
  for (const Curve& c : r.curves) {
    for (const Sample& s : c.samples)
      o << c.name << ',' << num(s.quality) << ',' << s.image << ',' << s.bytes << ','
        << num(s.bpp) << ',' << num(s.psnr) << ',' << num(s.ms_ssim) << ',' << num(s.encode_ms)
        << ',' << num(s.decode_ms) << '\n';
    for (size_t i = 0; i < c.quality.size(); ++i)
      o << c.name << ',' << num(c.quality[i]) << ",average,," << num(c.bpp[i]) << ','
        << num(c.psnr[i]) << ',' << num(c.ms_ssim[i]) << ',' << num(c.encode_ms[i]) << ','
        << num(c.decode_ms[i]) << '\n';
  }
  return o.str();
}

std::string to_svg(const Report& r) {
  // Axes: bpp from 0 to just past nlc's highest point (at most 3), PSNR over what is shown.
  double xmax = 0.5;
  if (!r.curves.empty())
    for (double b : r.curves.front().bpp) xmax = std::max(xmax, b * 1.15);
  xmax = std::min(3.0, std::ceil(xmax * 4) / 4);
  double ymin = 1e9, ymax = -1e9;
  auto visit = [&](const Curve& c) {
    for (size_t i = 0; i < c.bpp.size(); ++i)
      if (c.bpp[i] <= xmax && std::isfinite(c.psnr[i]))
        ymin = std::min(ymin, c.psnr[i]), ymax = std::max(ymax, c.psnr[i]);
  };
  for (const Curve& c : r.curves) visit(c);
  for (const Curve& c : r.published) visit(c);
  if (ymin > ymax) ymin = 20, ymax = 40;
  ymin = std::floor(ymin - 0.5), ymax = std::ceil(ymax + 0.5);
  const double W = 760, H = 520, L = 60, R = 200, T = 40, B = 50;
  auto px = [&](double b) { return L + (W - L - R) * b / xmax; };
  auto py = [&](double p) { return H - B - (H - T - B) * (p - ymin) / (ymax - ymin); };
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(1);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" "
       "fill=\"white\"/>\n";
  const std::string set = r.dataset.substr(r.dataset.find_last_of('/') + 1);  // folder name
  o << "<text x=\"" << L << "\" y=\"22\" font-size=\"14\">" << xml(set) << " (" << r.images
    << " images), " << xml(r.date) << (r.label.empty() ? "" : ", " + xml(r.label)) << "</text>\n";
  for (double b = 0; b <= xmax + 1e-9; b += xmax > 1.5 ? 0.5 : 0.25)
    o << "<line x1=\"" << px(b) << "\" y1=\"" << py(ymin) << "\" x2=\"" << px(b) << "\" y2=\""
      << py(ymax) << "\" stroke=\"#ddd\"/><text x=\"" << px(b) << "\" y=\"" << H - B + 16
      << "\" text-anchor=\"middle\">" << num(b, 3) << "</text>\n";
  const double ystep = ymax - ymin > 12 ? 2 : 1;
  for (double p = ymin; p <= ymax + 1e-9; p += ystep)
    o << "<line x1=\"" << px(0) << "\" y1=\"" << py(p) << "\" x2=\"" << px(xmax) << "\" y2=\""
      << py(p) << "\" stroke=\"#ddd\"/><text x=\"" << L - 6 << "\" y=\"" << py(p) + 4
      << "\" text-anchor=\"end\">" << num(p, 3) << "</text>\n";
  o << "<text x=\"" << (L + W - R) / 2 << "\" y=\"" << H - 12
    << "\" text-anchor=\"middle\">bits per pixel (from file bytes)</text>\n<text x=\"16\" y=\""
    << (T + H - B) / 2 << "\" transform=\"rotate(-90 16 " << (T + H - B) / 2
    << ")\" text-anchor=\"middle\">PSNR-RGB (dB)</text>\n";
  static const char* kColours[] = {"#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  int legend = 0, colour = 0;
  auto draw = [&](const Curve& c, bool dashed) {
    const char* col = kColours[colour++ % 10];
    std::string pts;
    for (size_t i = 0; i < c.bpp.size(); ++i) {
      if (c.bpp[i] > xmax || !std::isfinite(c.psnr[i]) || c.psnr[i] < ymin) continue;
      char b[64];
      std::snprintf(b, sizeof b, "%.1f,%.1f ", px(c.bpp[i]), py(c.psnr[i]));
      pts += b;
      if (!dashed)
        o << "<circle cx=\"" << px(c.bpp[i]) << "\" cy=\"" << py(c.psnr[i]) << "\" r=\"3\" fill=\""
          << col << "\"/>\n";
    }
    o << "<polyline fill=\"none\" stroke=\"" << col << "\" stroke-width=\""
      << (c.name == "nlc" ? 2.5 : 1.5) << "\"" << (dashed ? " stroke-dasharray=\"5,4\"" : "")
      << " points=\"" << pts << "\"/>\n";
    const double ly = T + 10 + 18 * legend++;
    o << "<line x1=\"" << W - R + 15 << "\" y1=\"" << ly << "\" x2=\"" << W - R + 40 << "\" y2=\""
      << ly << "\" stroke=\"" << col << "\" stroke-width=\"2\""
      << (dashed ? " stroke-dasharray=\"5,4\"" : "") << "/><text x=\"" << W - R + 46
      << "\" y=\"" << ly + 4 << "\">" << xml(c.name) << (dashed ? " (published)" : "")
      << "</text>\n";
  };
  for (const Curve& c : r.curves) draw(c, false);
  for (const Curve& c : r.published) draw(c, true);
  o << "</svg>\n";
  return o.str();
}

// ---- a small JSON reader for the published-curves file ----------------------------------
namespace {

struct Json {
  enum Kind { kNull, kNumber, kString, kArray, kObject, kBool } kind = kNull;
  double number = 0;
  std::string text;
  std::vector<Json> items;              // array elements, or object member values
  std::vector<std::string> names;       // object member names (vector<pair<string, Json>>
                                        // would need Json complete: clang rejects it)
};

struct Parser {
  const std::string& s;
  size_t i = 0;
  [[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error("published curves: " + what + " at byte " + std::to_string(i));
  }
  void ws() {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) return ++i, true;
    return false;
  }
  std::string string() {
    if (!eat('"')) fail("expected a string");
    std::string o;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') {
        if (++i >= s.size()) break;
        if (s[i] == 'u') {  // names here are ASCII; keep other escapes as '?'
          i += 4;
          o += '?';
          ++i;
          continue;
        }
        o += s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i];
        ++i;
        continue;
      }
      o += s[i++];
    }
    if (!eat('"')) fail("unterminated string");
    return o;
  }
  Json value(int depth = 0) {
    if (depth > 64) fail("nesting too deep");
    ws();
    Json v;
    if (i >= s.size()) fail("unexpected end");
    if (s[i] == '{') {
      ++i;
      v.kind = Json::kObject;
      if (eat('}')) return v;
      do {
        std::string key = string();
        if (!eat(':')) fail("expected ':'");
        v.names.push_back(key);
        v.items.push_back(value(depth + 1));
      } while (eat(','));
      if (!eat('}')) fail("expected '}'");
    } else if (s[i] == '[') {
      ++i;
      v.kind = Json::kArray;
      if (eat(']')) return v;
      do v.items.push_back(value(depth + 1));
      while (eat(','));
      if (!eat(']')) fail("expected ']'");
    } else if (s[i] == '"') {
      v.kind = Json::kString;
      v.text = string();
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else if (s.compare(i, 4, "true") == 0 || s.compare(i, 5, "false") == 0) {
      v.kind = Json::kBool;
      i += s[i] == 't' ? 4 : 5;
    } else {
      char* end = nullptr;
      v.number = std::strtod(s.c_str() + i, &end);
      if (end == s.c_str() + i) fail("unexpected character");
      v.kind = Json::kNumber;
      i = size_t(end - s.c_str());
    }
    return v;
  }
};

std::vector<double> numbers(const Json& v, const std::string& what) {
  if (v.kind != Json::kArray) throw std::runtime_error("published curves: " + what + " is not an array");
  std::vector<double> o;
  for (const Json& x : v.items) {
    if (x.kind != Json::kNumber)
      throw std::runtime_error("published curves: " + what + " holds a non-number");
    o.push_back(x.number);
  }
  return o;
}

}  // namespace

std::vector<Curve> read_published(const std::string& json_text) {
  Parser p{json_text};
  Json root = p.value();
  p.ws();
  if (p.i != json_text.size()) p.fail("trailing characters");
  if (root.kind != Json::kObject) p.fail("expected an object of curves");
  std::vector<Curve> out;
  for (size_t m = 0; m < root.names.size(); ++m) {
    const std::string& name = root.names[m];
    const Json& v = root.items[m];
    if (v.kind != Json::kObject) continue;
    const Json *bpp = nullptr, *psnr = nullptr;
    for (size_t k = 0; k < v.names.size(); ++k) {
      if (v.names[k] == "bpp") bpp = &v.items[k];
      if (v.names[k] == "psnr_rgb") psnr = &v.items[k];
    }
    if (!bpp || !psnr) continue;
    Curve c;
    c.name = name;
    c.published = true;
    c.bpp = numbers(*bpp, name + ".bpp");
    c.psnr = numbers(*psnr, name + ".psnr_rgb");
    if (c.bpp.size() != c.psnr.size())
      throw std::runtime_error("published curves: " + name + " has bpp and psnr of different lengths");
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace nlc::eval
