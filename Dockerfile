# One image for the three roles of a team deployment (compose.yaml): the app (default command),
# the recorder (`python -m data_sources.recorder`) and `python -m data_sources migrate`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN useradd --system --uid 10001 --create-home --shell /usr/sbin/nologin liqscope \
    && mkdir -p /app/data && chown liqscope /app/data
USER liqscope

EXPOSE 8501
# Streamlit's own health endpoint; python instead of curl (the slim image has none).
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", "--server.headless=true"]
