// The one translation unit that holds doctest's runner for every test program.
//
// CTest runs each test case on its own, as `test_LAYER --test-case=NAME`. If a NAME ever stopped
// matching (a renamed case, or a ';' in a name, which CMake reads as a list separator and so
// splits one case into two entries that match nothing), doctest would run zero cases and
// report success: a test that cannot fail. So a run that selected no test case fails here.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

struct RunTally {
  bool ran = false;         // a test run ended (not a query such as --list-test-cases)
  unsigned selected = 0;    // test cases that passed the filters
};
RunTally g_tally;

// A listener: it sees every run next to the normal console reporter.
struct TallyListener : doctest::IReporter {
  explicit TallyListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    g_tally.ran = true;
    g_tally.selected = stats.numTestCasesPassingFilters;
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

DOCTEST_REGISTER_LISTENER("radgal-tally", 1, TallyListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;
  if (g_tally.ran && g_tally.selected == 0) {
    std::fprintf(stderr,
                 "test runner: no test case matched the filters, so nothing was tested (does a "
                 "CTest entry name a case that was renamed, or hold a ';' that split it?)\n");
    return result != 0 ? result : 1;
  }
  return result;
}
