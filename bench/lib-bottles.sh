# bench/lib-bottles.sh: sourced by bench scripts that start bottles under a
# HOME of their own in $work. ours lists the IDs of the containers (or,
# with "network", the networks) whose state-dir label lies under $work:
# that run's and nobody else's; remove_ours removes them all.
ours() {
  if [ "${1:-}" = network ]; then
    docker network ls -q --filter label=bot-bottle.slug |
      xargs -r docker network inspect -f '{{.ID}} {{index .Labels "bot-bottle.state-dir"}}'
  else
    docker ps -aq --filter label=bot-bottle.slug |
      xargs -r docker inspect -f '{{.ID}} {{index .Config.Labels "bot-bottle.state-dir"}}'
  fi | awk -v w="$work/" 'index($2, w) == 1 { print $1 }'
}
remove_ours() {
  ours | xargs -r docker rm -f >/dev/null
  ours network | xargs -r docker network rm >/dev/null
}
