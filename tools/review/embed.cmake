# Embed the review page in the dopflow binary (cmake -DIN=page.html -DOUT=page.c -P embed.cmake):
# the page works offline and is installed with the program, with nothing to locate at run time.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
file(WRITE ${OUT} "/* generated from tools/review/index.html by tools/review/embed.cmake */\n"
                  "const unsigned char review_page_html[] = {${hex} 0};\n"
                  "const unsigned long review_page_html_len = sizeof review_page_html - 1;\n")
