// Progress bars and the quiet-by-default logging switch.
//
// A ProgressBar draws one self-overwriting line on stderr: label, count/total, percent, rate in
// the given unit per second, elapsed time and ETA. It draws only when stderr is a terminal or
// RADGAL_PROGRESS=1 is set, so logs captured to files stay clean; it redraws at most ten times a
// second so drawing never shows up in a profile. Results go to stdout, progress to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace radgal {

bool verbose();
void set_verbose(bool on);

// "0.8s", "42s", "3m05s", "1h02m"
std::string format_duration(double seconds);

class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "img");
  ~ProgressBar();  // finishes the line if finish() was not called
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(int64_t n = 1);
  void set_postfix(const std::string& text);  // shown after the ETA, e.g. "loss 0.412"
  void finish();                               // draws the final state and ends the line

  double elapsed_seconds() const;
  double rate() const;  // units per second so far

 private:
  void draw(bool final_draw);

  std::string label_, unit_, postfix_;
  int64_t total_ = 0, done_ = 0;
  bool enabled_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace radgal
