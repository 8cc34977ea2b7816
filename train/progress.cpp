#include "train/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace radgal {

namespace {
bool g_verbose = false;

bool progress_enabled() {
  const char* forced = std::getenv("RADGAL_PROGRESS");
  if (forced) return std::strcmp(forced, "0") != 0;
  return isatty(fileno(stderr)) != 0;
}
}  // namespace

bool verbose() { return g_verbose; }
void set_verbose(bool on) { g_verbose = on; }

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds < 0) seconds = 0;
  if (seconds < 10) {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  } else if (seconds < 60) {
    std::snprintf(buf, sizeof buf, "%.0fs", seconds);
  } else if (seconds < 3600) {
    const int s = static_cast<int>(seconds + 0.5);
    std::snprintf(buf, sizeof buf, "%dm%02ds", s / 60, s % 60);
  } else {
    const int m = static_cast<int>(seconds / 60 + 0.5);
    std::snprintf(buf, sizeof buf, "%dh%02dm", m / 60, m % 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      enabled_(progress_enabled()), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (enabled_) draw(false);
}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  const double t = elapsed_seconds();
  return t > 0 ? static_cast<double>(done_) / t : 0.0;
}

void ProgressBar::update(int64_t n) {
  done_ += n;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_draw_ = now;
  draw(false);
}

void ProgressBar::set_postfix(const std::string& text) { postfix_ = text; }

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (enabled_) draw(true);
}

void ProgressBar::draw(bool final_draw) {
  constexpr int kWidth = 24;
  const double frac = total_ > 0 ? static_cast<double>(done_) / static_cast<double>(total_) : 0.0;
  const int filled = static_cast<int>(frac * kWidth + 0.5);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';

  const double r = rate();
  const double eta = r > 0 && total_ > done_ ? static_cast<double>(total_ - done_) / r : 0.0;
  std::fprintf(stderr, "\r%-12s [%s] %lld/%lld %3.0f%% %8.1f %s/s  %s  eta %s  %s\x1b[K",
               label_.c_str(), bar, static_cast<long long>(done_),
               static_cast<long long>(total_), 100.0 * frac, r, unit_.c_str(),
               format_duration(elapsed_seconds()).c_str(), format_duration(eta).c_str(),
               postfix_.c_str());
  if (final_draw) std::fputc('\n', stderr);
  std::fflush(stderr);
}

}  // namespace radgal
