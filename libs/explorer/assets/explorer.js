// btf-atlas explorer: search completion (the page works without this script; the form submits to /search).
