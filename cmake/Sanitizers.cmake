# NR_SANITIZE=address,undefined or thread instruments every target of the build tree.
if(NR_SANITIZE)
  add_compile_options(-fsanitize=${NR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=${NR_SANITIZE})
endif()
