# restic-rest in a container: a compiled single binary on a distroless base.
#
#   docker build -t restic-rest .
#   docker run -d -p 8000:8000 -v /srv/restic:/data restic-rest
#   docker exec -it <container> restic-rest user add anna --path /data
#   (probe http://HOST:8000/healthz from the orchestrator: 200 when /data is writable)

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
COPY tools ./tools
RUN deno task compile --output /restic-rest

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /restic-rest /usr/local/bin/restic-rest
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/restic-rest", "serve", "/data", "--listen", ":8000"]
