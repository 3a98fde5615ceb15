# rnnkit serve as a SageMaker inference container: GET /ping and POST /invocations on port 8080,
# the run (or runs) in /opt/ml/model. See docs/serving.md.
#
#   docker build -t rnnkit-serve .
#   docker run -p 8080:8080 -v "$PWD/runs/demo:/opt/ml/model:ro" rnnkit-serve serve
#
# The installs are pinned by constraints.txt. For torch's CPU-only wheel (much smaller than the
# default one), pass the index that serves it: --build-arg PIP_EXTRA_INDEX_URL=...
FROM python:3.11-slim

ARG PIP_EXTRA_INDEX_URL=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_EXTRA_INDEX_URL=${PIP_EXTRA_INDEX_URL} \
    PYTHONUNBUFFERED=1 \
    RNNKIT_MODEL_DIR=/opt/ml/model \
    RNNKIT_HOST=0.0.0.0 \
    RNNKIT_PORT=8080

WORKDIR /opt/rnnkit
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install -c constraints.txt '.[serve]'
COPY docker/serve /usr/local/bin/serve

RUN useradd --create-home --uid 1000 rnnkit
USER rnnkit
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/serve"]
