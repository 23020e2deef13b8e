# Installs tests/interop's pinned packages (the `ws` WebSocket client) into the build tree:
# `npm ci` in DIR, run by tests/CMakeLists.txt as a build step (cmake -DNPM=... -DDIR=... -P).
# A failure (e.g. no registry) does not stop the build, so every other test still builds
# offline; WsInteropTest then fails and says why. The stamp exists only after a success.
file(REMOVE "${DIR}/npm-ci.stamp")
execute_process(
  # Few, short retries: offline, npm's defaults would stall every build for minutes.
  COMMAND "${NPM}" ci --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error
          --fetch-retries=2 --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 --fetch-timeout=60000
  WORKING_DIRECTORY "${DIR}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)
if(rc EQUAL 0)
  file(TOUCH "${DIR}/npm-ci.stamp")
else()
  message(WARNING "npm ci in ${DIR} failed (${rc}):\n${out}${err}\n"
                  "WsInteropTest will fail until it succeeds (rebuild with the npm registry reachable).")
endif()
