#include "completion.h"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace orchctl {
namespace {

struct Flag {
  std::vector<std::string> names;  // "-o", "--output"
  std::string description;
  bool takes_value = false;
  std::vector<std::string> choices;  // a fixed set (CLI::IsMember), else empty
};

struct Word {
  std::string name;
  std::string description;
};

// One command of the tree: its path ("" for orchctl itself, "interval create"), what may
// follow it, and the flags it accepts (its own, then those of the commands it falls through to).
struct Node {
  std::string path;
  std::vector<Word> words;  // sub-commands, then the choices of its arguments
  std::vector<std::pair<std::string, std::string>> names;  // name or alias -> sub-command
  std::vector<Flag> flags;
};

// The fixed set of values CLI11 shows in a type name ("TEXT:{text,json}"), if any.
std::vector<std::string> choices_of(const CLI::Option& option) {
  const std::string type = option.get_type_name();
  const auto open = type.find('{');
  const auto close = type.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return {};
  std::vector<std::string> choices;
  std::string rest = type.substr(open + 1, close - open - 1);
  std::size_t start = 0;
  while (start <= rest.size()) {
    const auto comma = std::min(rest.find(',', start), rest.size());
    if (comma > start) choices.push_back(rest.substr(start, comma - start));
    start = comma + 1;
  }
  return choices;
}

std::vector<Flag> own_flags(const CLI::App& app) {
  std::vector<Flag> flags;
  for (const CLI::Option* option : app.get_options()) {
    if (!option->nonpositional()) continue;
    Flag flag;
    for (const auto& name : option->get_snames()) flag.names.push_back("-" + name);
    for (const auto& name : option->get_lnames()) flag.names.push_back("--" + name);
    flag.description = option->get_description();
    flag.takes_value = option->get_expected_max() > 0;  // flags expect 0 values
    if (flag.takes_value) flag.choices = choices_of(*option);
    flags.push_back(std::move(flag));
  }
  return flags;
}

std::vector<CLI::App*> subcommands_of(CLI::App& app) {
  return app.get_subcommands([](CLI::App* sub) { return !sub->get_name().empty(); });
}

void collect(CLI::App& app, const std::string& path, std::vector<Node>& nodes) {
  Node node;
  node.path = path;
  for (CLI::App* sub : subcommands_of(app)) {
    node.words.push_back({sub->get_name(), sub->get_description()});
    node.names.emplace_back(sub->get_name(), sub->get_name());
    for (const auto& alias : sub->get_aliases()) node.names.emplace_back(alias, sub->get_name());
  }
  for (const CLI::Option* option : app.get_options()) {
    if (option->nonpositional()) continue;
    for (const auto& choice : choices_of(*option)) {
      node.words.push_back({choice, option->get_description()});
    }
  }
  // Flags the command does not know fall through to its parent (app.fallthrough()): offer
  // them too, the command's own first.
  for (const CLI::App* at = &app; at != nullptr; at = at->get_parent()) {
    for (auto& flag : own_flags(*at)) {
      const bool shadowed = std::any_of(node.flags.begin(), node.flags.end(), [&](const Flag& f) {
        return std::find(f.names.begin(), f.names.end(), flag.names.front()) != f.names.end();
      });
      if (!shadowed) node.flags.push_back(std::move(flag));
    }
    if (!at->get_fallthrough()) break;
  }
  nodes.push_back(std::move(node));
  for (CLI::App* sub : subcommands_of(app)) {
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), nodes);
  }
}

// A word in single quotes for bash and zsh.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// "name:description" for zsh's _describe (a ':' in the name is escaped).
std::string described(const std::string& name, const std::string& description) {
  std::string entry;
  for (char c : name) {
    if (c == ':') entry += '\\';
    entry += c;
  }
  std::string line = description.substr(0, description.find('\n'));
  return quoted(entry + ":" + line);
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}

// The data functions both scripts share: a `case` on the command path (and flag or word).
// `word_list` makes the entries of one node's words or flags: plain names (bash) or quoted
// name:description entries (zsh).
std::string data_functions(const std::vector<Node>& nodes, bool zsh) {
  std::string out;
  out += "# _orchctl_sub PATH WORD: sets REPLY to the sub-command that WORD names (or an alias\n"
         "# of) under the command PATH, or to \"\" when WORD is an argument.\n"
         "_orchctl_sub() {\n  REPLY=\n  case \"$1/$2\" in\n";
  for (const auto& node : nodes) {
    for (const auto& [name, canonical] : node.names) {
      out += "    " + quoted(node.path + "/" + name) + ") REPLY=" + canonical + " ;;\n";
    }
  }
  out += "  esac\n}\n\n";

  const auto emit_list = [&](const std::string& function, const std::string& comment,
                             auto entries_of) {
    out += comment;
    out += function + "() {\n  reply=()\n  case \"$1\" in\n";
    for (const auto& node : nodes) {
      const std::vector<std::string> entries = entries_of(node);
      if (entries.empty()) continue;
      out += "    " + quoted(node.path) + ") reply=(" + join(entries) + ") ;;\n";
    }
    out += "  esac\n}\n\n";
  };
  emit_list("_orchctl_words",
            "# _orchctl_words PATH: sets reply to what may follow the command PATH that is not a\n"
            "# flag: its sub-commands and the choices of its arguments.\n",
            [&](const Node& node) {
              std::vector<std::string> entries;
              for (const auto& word : node.words) {
                entries.push_back(zsh ? described(word.name, word.description) : word.name);
              }
              return entries;
            });
  emit_list("_orchctl_flags",
            "# _orchctl_flags PATH: sets reply to the flags of the command PATH (its parents'\n"
            "# included: they may follow it).\n",
            [&](const Node& node) {
              std::vector<std::string> entries;
              for (const auto& flag : node.flags) {
                for (const auto& name : flag.names) {
                  entries.push_back(zsh ? described(name, flag.description) : name);
                }
              }
              return entries;
            });

  out += "# _orchctl_valued PATH FLAG: succeeds when FLAG takes a value under the command PATH.\n"
         "_orchctl_valued() {\n  case \"$1/$2\" in\n";
  std::vector<std::string> valued;
  for (const auto& node : nodes) {
    for (const auto& flag : node.flags) {
      if (!flag.takes_value) continue;
      for (const auto& name : flag.names) valued.push_back(quoted(node.path + "/" + name));
    }
  }
  for (std::size_t i = 0; i < valued.size(); i += 6) {
    std::vector<std::string> chunk(valued.begin() + static_cast<std::ptrdiff_t>(i),
                                   valued.begin() + static_cast<std::ptrdiff_t>(
                                                        std::min(i + 6, valued.size())));
    std::string patterns;
    for (const auto& pattern : chunk) patterns += (patterns.empty() ? "" : "|") + pattern;
    out += "    " + patterns + ") return 0 ;;\n";
  }
  out += "  esac\n  return 1\n}\n\n";

  out += "# _orchctl_choices PATH FLAG: sets reply to the values FLAG takes under the command\n"
         "# PATH when they are a fixed set; empty otherwise.\n"
         "_orchctl_choices() {\n  reply=()\n  case \"$1/$2\" in\n";
  for (const auto& node : nodes) {
    for (const auto& flag : node.flags) {
      if (flag.choices.empty()) continue;
      std::string patterns;
      for (const auto& name : flag.names) {
        patterns += (patterns.empty() ? "" : "|") + quoted(node.path + "/" + name);
      }
      out += "    " + patterns + ") reply=(" + join(flag.choices) + ") ;;\n";
    }
  }
  out += "  esac\n}\n\n";
  return out;
}

constexpr const char* kBashHeader = R"(# bash completion for orchctl, written by `orchctl completion bash` from its command tree.
#
# Install for your user (bash-completion loads it on first use of orchctl):
#   mkdir -p ~/.local/share/bash-completion/completions
#   orchctl completion bash > ~/.local/share/bash-completion/completions/orchctl
# or for this shell only:
#   source <(orchctl completion bash)

)";

constexpr const char* kBashMain = R"(# _orchctl_state: reads COMP_WORDS and COMP_CWORD and sets _orchctl_path (the command typed so
# far, "" for orchctl itself), _orchctl_mode (words, flags, value or files), _orchctl_flag (the
# flag whose value is being typed) and _orchctl_cur (the text to complete).
_orchctl_state() {
  local i=1 word
  _orchctl_path="" _orchctl_mode=words _orchctl_flag="" _orchctl_cur="${COMP_WORDS[COMP_CWORD]}"
  while (( i < COMP_CWORD )); do
    word="${COMP_WORDS[i]}"
    if [[ $word == -- ]]; then
      _orchctl_mode=files  # after --: a program and its arguments
      return
    fi
    if [[ $word == -* && $word != *=* ]] && _orchctl_valued "$_orchctl_path" "$word"; then
      (( i++ ))
      # bash splits --flag=value at '=' into three words
      if [[ ${COMP_WORDS[i]} == = ]]; then
        (( i++ ))
        (( i > COMP_CWORD )) && _orchctl_cur=""
      fi
      if (( i >= COMP_CWORD )); then
        _orchctl_mode=value _orchctl_flag="$word"
        return
      fi
    elif [[ $word != -* ]]; then
      _orchctl_sub "$_orchctl_path" "$word"
      [[ -n $REPLY ]] && _orchctl_path="${_orchctl_path:+$_orchctl_path }$REPLY"
    fi
    (( i++ ))
  done
  if [[ $_orchctl_cur == --*=* ]] && _orchctl_valued "$_orchctl_path" "${_orchctl_cur%%=*}"; then
    _orchctl_mode=value _orchctl_flag="${_orchctl_cur%%=*}" _orchctl_cur="${_orchctl_cur#*=}"
  elif [[ $_orchctl_cur == -* ]]; then
    _orchctl_mode=flags
  fi
}

_orchctl() {
  local _orchctl_path _orchctl_mode _orchctl_flag _orchctl_cur REPLY
  local -a reply
  _orchctl_state
  case $_orchctl_mode in
    words) _orchctl_words "$_orchctl_path" ;;
    flags) _orchctl_flags "$_orchctl_path" ;;
    value) _orchctl_choices "$_orchctl_path" "$_orchctl_flag" ;;
  esac
  if [[ $_orchctl_mode == files || ( $_orchctl_mode == value && ${#reply[@]} -eq 0 ) ]]; then
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$_orchctl_cur")
    return 0
  fi
  mapfile -t COMPREPLY < <(compgen -W "${reply[*]}" -- "$_orchctl_cur")
  return 0
}

complete -F _orchctl orchctl
)";

constexpr const char* kZshHeader = R"(#compdef orchctl
# zsh completion for orchctl, written by `orchctl completion zsh` from its command tree.
#
# Install for your user: put it in a directory of $fpath, before compinit runs:
#   mkdir -p ~/.zfunc && orchctl completion zsh > ~/.zfunc/_orchctl
#   and in ~/.zshrc: fpath=(~/.zfunc $fpath); autoload -U compinit; compinit
# or for this shell only (after compinit):
#   source <(orchctl completion zsh)

)";

constexpr const char* kZshMain = R"(# _orchctl_state: reads $words and $CURRENT and sets _orchctl_path (the command typed so far,
# "" for orchctl itself), _orchctl_mode (words, flags, value or files) and _orchctl_flag (the
# flag whose value is being typed).
_orchctl_state() {
  local i=2 word
  _orchctl_path="" _orchctl_mode=words _orchctl_flag=""
  while (( i < CURRENT )); do
    word="${words[i]}"
    if [[ $word == -- ]]; then
      _orchctl_mode=files  # after --: a program and its arguments
      return
    fi
    if [[ $word == -* && $word != *=* ]] && _orchctl_valued "$_orchctl_path" "$word"; then
      (( i++ ))
      if (( i >= CURRENT )); then
        _orchctl_mode=value _orchctl_flag="$word"
        return
      fi
    elif [[ $word != -* ]]; then
      _orchctl_sub "$_orchctl_path" "$word"
      [[ -n $REPLY ]] && _orchctl_path="${_orchctl_path:+$_orchctl_path }$REPLY"
    fi
    (( i++ ))
  done
  word="${words[CURRENT]}"
  if [[ $word == --*=* ]] && _orchctl_valued "$_orchctl_path" "${word%%=*}"; then
    _orchctl_mode=value _orchctl_flag="${word%%=*}"
  elif [[ $word == -* ]]; then
    _orchctl_mode=flags
  fi
}

_orchctl() {
  local _orchctl_path _orchctl_mode _orchctl_flag REPLY
  local -a reply
  _orchctl_state
  case $_orchctl_mode in
    words)
      _orchctl_words "$_orchctl_path"
      (( ${#reply} )) && _describe -t commands 'orchctl command' reply
      ;;
    flags)
      _orchctl_flags "$_orchctl_path"
      _describe -t options 'orchctl flag' reply
      ;;
    value)
      [[ $PREFIX == --*=* ]] && compset -P '*='
      _orchctl_choices "$_orchctl_path" "$_orchctl_flag"
      if (( ${#reply} )); then
        compadd -a reply
      else
        _files
      fi
      ;;
    files)
      _files
      ;;
  esac
}

# Autoloaded from $fpath this file is the body of _orchctl: run it. Sourced: register it.
if [[ ${funcstack[1]} == _orchctl ]]; then
  _orchctl "$@"
else
  compdef _orchctl orchctl
fi
)";

}  // namespace

std::string completion_script(CLI::App& app, const std::string& shell) {
  std::vector<Node> nodes;
  collect(app, "", nodes);
  if (shell == "bash") return kBashHeader + data_functions(nodes, false) + kBashMain;
  if (shell == "zsh") return kZshHeader + data_functions(nodes, true) + kZshMain;
  throw std::invalid_argument("completion: unknown shell \"" + shell + "\" (use bash or zsh)");
}

}  // namespace orchctl
