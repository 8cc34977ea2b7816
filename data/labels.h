// MiraBest label codes and the source names that carry a catalogue entry's fields.
//
// A label code has three digits: the FR class (1 FRI, 2 FRII, 3 hybrid), the confidence
// (0 confident, 1 uncertain) and the morphology (0 standard, 1 double-double, 2 wide-angle tail,
// 4 head-tail). MiraBest uses 100 102 104 110 112 200 201 210 300 310.
//
// Source names look like 100_188.320+019.481_0.2282_0049.17: code, right ascension and
// declination in degrees, redshift, and the largest angular size in arcseconds. The batch files
// store them as "./MiraBest_data/<name>.png" and the raw cutouts as "<name>.fits.fz".
#pragma once

#include <optional>
#include <string>

namespace radgal {

struct LabelCode {
  int code = 0;
  std::string fr_class;    // "FRI", "FRII" or "hybrid"
  std::string confidence;  // "confident" or "uncertain"
  std::string morphology;  // "standard", "double-double", "wide-angle tail", "head-tail", "-"
};

// Describes a three-digit code; nullopt when a digit has no meaning (e.g. 400 or 105).
std::optional<LabelCode> describe_label_code(int code);

// Parses "100" -> 100; nullopt for anything that is not a valid three-digit code.
std::optional<int> parse_label_code(const std::string& text);

struct SourceName {
  std::string stem;  // the name without folders and extension
  int code = 0;
  double ra_deg = 0, dec_deg = 0, redshift = 0, size_arcsec = 0;
};

// Parses a file name or path in the layout above (any folders, any extension such as .png,
// .fits, .fits.fz, .fits.gz); nullopt when it does not follow the layout.
std::optional<SourceName> parse_source_name(const std::string& name);

// "CODE_RA_DEC" with RA and Dec to 3 decimals: the same source gives the same key whatever the
// file's extension or the rounding of its redshift and size fields.
std::string source_key(const SourceName& source);

}  // namespace radgal
