# One image for every planwatch process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY events events
COPY projections projections
COPY services services
COPY plans plans
COPY docs/source docs/source
# Editable install keeps plans/ next to the code, where the demo and CLI look for it.
RUN pip install --no-cache-dir -e .
ENV PLANWATCH_REDIS_URL=redis://redis:6379/0
ENTRYPOINT ["planwatch"]
