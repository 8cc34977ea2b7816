// radgal: the command-line front door. Each workflow step is a sub-command.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "tools/commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const radgal::tools::Args&);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"explore", radgal::tools::cmd_explore, "class tables, distributions and bias checks"},
    {"prepare", radgal::tools::cmd_prepare, "raw FITS cutouts -> MiraBest images"},
    {"train", radgal::tools::cmd_train, "train a classifier"},
    {"evaluate", radgal::tools::cmd_evaluate, "metrics table, ROC and confusion matrix"},
    {"predict", radgal::tools::cmd_predict, "classify FITS or PNG files"},
    {"demo", radgal::tools::cmd_demo, "train a small CNN on synthetic images"},
};

void print_usage() {
  std::printf("usage: radgal <command> [options]   (radgal <command> --help for details)\n\n");
  for (const Command& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  radgal::tools::Args args(argv + 2, argv + argc);
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(args);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "radgal %s: error: %s\n", c.name, e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "radgal: unknown command '%s'\n\n", argv[1]);
  print_usage();
  return 2;
}
