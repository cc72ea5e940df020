# Warnings per target, -Werror on request, and the sanitizer build.
function(colconv_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wvla -Wformat=2)
  if(COLCONV_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

function(colconv_sanitize target)
  if(COLCONV_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
endfunction()
