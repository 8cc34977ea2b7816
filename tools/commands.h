// The sub-commands of the `radgal` program. Each takes the arguments after its own name and
// returns the process exit code (0 ok, 1 failure, 2 usage error). They live in the radgal_tools
// library so tests can run them in-process.
#pragma once

#include <string>
#include <vector>

namespace radgal::tools {

using Args = std::vector<std::string>;

int cmd_demo(const Args& args);      // tools/cmd_demo.cpp: small CNN on synthetic images
int cmd_explore(const Args& args);   // tools/cmd_explore.cpp
int cmd_prepare(const Args& args);   // tools/cmd_prepare.cpp
int cmd_train(const Args& args);     // tools/cmd_train.cpp
int cmd_evaluate(const Args& args);  // tools/cmd_evaluate.cpp
int cmd_predict(const Args& args);   // tools/cmd_predict.cpp

}  // namespace radgal::tools
