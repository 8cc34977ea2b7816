// Small helpers shared by the sub-commands: command-line parsing with CLI11 under the exit-code
// convention of tools/commands.h, a check for unsigned options, and atomic writes of text results
// (JSON reports).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "tools/commands.h"

namespace radgal::tools {

// Parses args (the words after the sub-command's name). Returns nullopt when the command should
// run; otherwise the exit code to return: 0 after printing --help, 2 after printing a usage
// error to stderr.
std::optional<int> parse_command_line(CLI::App& app, const Args& args);

// The check every option read into an unsigned integer (seeds) carries. CLI11 converts with
// strtoull, which turns "-1" into 18446744073709551615 and a number beyond the type into its
// largest value without a word, and reads "010" as octal. This accepts plain decimal digits
// that fit in uint64_t (dropping leading zeros, so they read as decimal) and refuses anything
// else as a usage error naming the value. Attach it with ->transform(unsigned_integer()), as it
// rewrites the value.
CLI::Validator unsigned_integer();

// Writes text to path through a temporary file in the same folder and a rename, so readers never
// see a partial file. Throws std::runtime_error naming the path.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace radgal::tools
