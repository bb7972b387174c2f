#pragma once
/// `orchctl completion bash|zsh`: shell completion scripts written from the CLI11 command
/// tree itself (sub-commands and their aliases, flags, which flags take a value, the choices of
/// a flag or argument that has a fixed set), so they cannot drift from what orchctl parses.

#include <CLI/CLI.hpp>
#include <string>

namespace orchctl {

/// The completion script for `shell` ("bash" or "zsh") of `app` and everything below it.
/// Throws std::invalid_argument for another shell.
std::string completion_script(CLI::App& app, const std::string& shell);

}  // namespace orchctl
