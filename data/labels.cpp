#include "data/labels.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace radgal {

namespace {

// Strict decimal number: optional sign, digits, optional fraction. strtod alone would accept
// "inf", hex and exponents, none of which belong in a source name.
std::optional<double> parse_decimal(const std::string& s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  bool point = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && !point) {
      point = true;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0) return std::nullopt;
  return std::strtod(s.c_str(), nullptr);
}

}  // namespace

std::optional<LabelCode> describe_label_code(int code) {
  if (code < 100 || code > 399) return std::nullopt;
  const int cls = code / 100, confidence = code / 10 % 10, morphology = code % 10;
  LabelCode d;
  d.code = code;
  d.fr_class = cls == 1 ? "FRI" : cls == 2 ? "FRII" : "hybrid";
  if (confidence > 1) return std::nullopt;
  d.confidence = confidence == 0 ? "confident" : "uncertain";
  switch (morphology) {
    case 0:
      d.morphology = cls == 3 ? "-" : "standard";
      break;
    case 1:
      d.morphology = "double-double";
      break;
    case 2:
      d.morphology = "wide-angle tail";
      break;
    case 4:
      d.morphology = "head-tail";
      break;
    default:
      return std::nullopt;
  }
  if (cls == 3 && morphology != 0) return std::nullopt;
  return d;
}

std::optional<int> parse_label_code(const std::string& text) {
  if (text.size() != 3) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  const int code = std::atoi(text.c_str());
  if (!describe_label_code(code)) return std::nullopt;
  return code;
}

std::optional<SourceName> parse_source_name(const std::string& name) {
  std::string stem = name.substr(name.find_last_of('/') + 1);
  // The size field comes last and has one decimal point; from its second dot on is the file
  // extension (.png, .fits.fz, ...).
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t i = 0; i <= stem.size(); ++i) {
    if (i == stem.size() || stem[i] == '_') {
      fields.push_back(stem.substr(start, i - start));
      start = i + 1;
    }
  }
  if (fields.size() != 4) return std::nullopt;
  std::string& size_field = fields[3];
  const size_t point = size_field.find('.');
  if (point != std::string::npos) {
    const size_t ext = size_field.find('.', point + 1);
    if (ext != std::string::npos) {
      stem.resize(stem.size() - (size_field.size() - ext));
      size_field.resize(ext);
    }
  }

  SourceName s;
  s.stem = stem;
  const auto code = parse_label_code(fields[0]);
  if (!code) return std::nullopt;
  s.code = *code;
  // RA and Dec are written back to back; the declination starts at its sign.
  const std::string& radec = fields[1];
  const size_t sign = radec.find_first_of("+-", 1);
  if (sign == std::string::npos) return std::nullopt;
  const auto ra = parse_decimal(radec.substr(0, sign));
  const auto dec = parse_decimal(radec.substr(sign));
  const auto z = parse_decimal(fields[2]);
  const auto size = parse_decimal(size_field);
  if (!ra || !dec || !z || !size) return std::nullopt;
  s.ra_deg = *ra;
  s.dec_deg = *dec;
  s.redshift = *z;
  s.size_arcsec = *size;
  return s;
}

std::string source_key(const SourceName& source) {
  char key[64];
  std::snprintf(key, sizeof key, "%d_%.3f_%+.3f", source.code, source.ra_deg, source.dec_deg);
  return key;
}

}  // namespace radgal
