# restic-rest in a container: the compiled single binary on a distroless base, as its nonroot
# user (uid 65532). The binary is the entrypoint; the default command serves the /data volume.
#
#   docker build -t restic-rest .
#   docker volume create restic
#   docker run --rm -it -v restic:/data restic-rest user add anna --path /data
#   docker run -d -p 8000:8000 -v restic:/data restic-rest
#   docker run -d -p 8000:8000 -v restic:/data restic-rest serve /data --no-auth
#
# A bind-mounted folder must be writable by uid 65532 (chown -R 65532:65532 /srv/restic).
# Probe http://HOST:8000/healthz from the orchestrator: 200 when /data takes writes.

FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
COPY tools ./tools
RUN deno task compile --output /restic-rest && mkdir /empty-data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /restic-rest /usr/local/bin/restic-rest
# A new named volume takes the owner of the image's folder: the nonroot user.
COPY --from=build --chown=65532:65532 /empty-data /data
VOLUME /data
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/restic-rest"]
CMD ["serve", "/data", "--listen", ":8000"]
