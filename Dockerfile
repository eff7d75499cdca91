# vitviz in a container: CPU-only torch of the pinned version, the app, and (only when asked) weights.
#
#   docker build -t vitviz .                                   # weights fetched on first use, at run time
#   docker build -t vitviz --build-arg FETCH_MODELS="vit_s16" .   # ViT-S/16 baked into the image
#   docker build -t vitviz --build-arg FETCH_MODELS="--all" .     # every zoo model (~1.1 GB)
#   docker run -p 8501:8501 vitviz                             # one app process
#   docker run -p 8080:8080 -e VITVIZ_HEALTH_PORT=8080 vitviz deploy/serve.sh 2 8080   # two processes behind nginx
#   docker compose up -d --scale app=4                         # four containers behind nginx (compose.yaml)
#
# The bundled offline shapes model needs no download; without network access every page still works on it.
FROM python:3.11-slim-bookworm

ARG FETCH_MODELS=""
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HOME=/opt/vitviz/hf \
    VITVIZ_THREADS=1 \
    VITVIZ_LISTEN=0.0.0.0

# nginx only for deploy/serve.sh (several app processes behind one port)
RUN apt-get update && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# torch/torchvision from PyTorch's CPU-only index (torch==2.14.1 matches its 2.14.1+cpu wheel: no CUDA
# libraries, a far smaller image); everything else from PyPI.
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -r requirements.txt

COPY . .
# Pre-fetch weights into the image's Hugging Face cache only when the build asks for it; the
# processes read them from there, read-only, at run time.
RUN if [ -n "$FETCH_MODELS" ]; then python -m vitviz fetch $FETCH_MODELS; fi \
    && useradd --create-home --uid 10001 vitviz && mkdir -p "$HF_HOME" && chown -R vitviz "$HF_HOME"
USER vitviz

EXPOSE 8501 8080
# healthy when the app answers on $VITVIZ_HEALTH_PORT (8501; 8080 for the proxied set: docker run -e VITVIZ_HEALTH_PORT=8080)
ENV VITVIZ_HEALTH_PORT=8501
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os, urllib.request as u; u.urlopen('http://127.0.0.1:%s/_stcore/health' % os.environ['VITVIZ_HEALTH_PORT'], timeout=4)" || exit 1
CMD ["python", "-m", "streamlit", "run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.port", "8501", \
     "--server.headless", "true", "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"]
