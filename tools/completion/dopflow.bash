# bash completion for dopflow (installed as share/bash-completion/completions/dopflow).
# The commands and each command's options are read from the program's own --help
# when completing, so they cannot drift from it; the choices of the options
# that take a keyword are listed here.
_dopflow_commands()
{
    "$1" --help 2>/dev/null | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {exit}'
}

_dopflow()
{
    local cur prev words cword
    if declare -F _init_completion >/dev/null; then
        _init_completion || return
    else
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi
    local prog=${words[0]}
    if [[ $cword -eq 1 ]]; then
        COMPREPLY=($(compgen -W "$(_dopflow_commands "$prog") --help --version" -- "$cur"))
        return
    fi
    local cmd=${words[1]}
    case $prev in
        --window) COMPREPLY=($(compgen -W "hann hamming blackman gaussian" -- "$cur")); return ;;
        --vmax) COMPREPLY=($(compgen -W "mgm percentile threshold knee" -- "$cur")); return ;;
        --vmean) COMPREPLY=($(compgen -W "intensity half-max kasai" -- "$cur")); return ;;
        --unwrap) COMPREPLY=($(compgen -W "auto on off" -- "$cur")); return ;;
        --channels) COMPREPLY=($(compgen -W "iq qi mono" -- "$cur")); return ;;
        --raw-format) COMPREPLY=($(compgen -W "s16 f32" -- "$cur")); return ;;
        --format) COMPREPLY=($(compgen -W "auto audio iq-h5 uff mat clarius" -- "$cur")); return ;;
        --colormap) COMPREPLY=($(compgen -W "viridis grey hot" -- "$cur")); return ;;
        --f0 | --angle | --c | --diameter | --wall-hz | --wall-order | --window-ms | --hop-ms | --fft | \
            --percentile | --threshold-db | --rate | --prf | --gate | --seed | --gates | -j | --jobs | \
            --start | --end | --from | --to | --epochs | --baseline-shift | --ensemble | --regression-order | \
            --shard | --width | --height)
            return ;;
    esac
    if [[ $cmd == plot && $cword -eq 2 ]]; then
        COMPREPLY=($(compgen -W "sonogram flow study color --help" -- "$cur"))
        return
    fi
    if [[ $cmd == study && $cword -eq 2 && $cur != -* ]]; then
        COMPREPLY=($(compgen -W "merge" -- "$cur") $(compgen -f -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        local help
        if [[ $cmd == plot && $cword -gt 2 ]]; then
            help=$("$prog" plot "${words[2]}" --help 2>/dev/null)
        else
            help=$("$prog" "$cmd" --help 2>/dev/null)
        fi
        COMPREPLY=($(compgen -W "$(grep -oE -- '(^|[ ,[])--?[A-Za-z0-9][A-Za-z0-9-]*' <<<"$help" | tr -d ' ,[' | sort -u)" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
}
complete -F _dopflow dopflow
