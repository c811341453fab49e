//! Creating and changing stream mappings: Lambda's rules for a DynamoDB
//! stream source (`StartingPosition` required, batches up to 10,000, no
//! `ScalingConfig`, an SQS queue as the `OnFailure` destination).

use crate::config::{
    parse_queue_arn, Mapping, MappingStatus, MappingUpdate, NewMapping, State, StreamArn,
    StreamSettings, DEFAULT_STREAM_BATCH_SIZE,
};
use crate::{now_ms, Entry, MappingError, Mappings};

impl Mappings {
    /// `CreateEventSourceMapping` on a stream: starts reading at the
    /// oldest record kept (`TRIM_HORIZON`) or after the newest
    /// (`LATEST`), a position stored with the mapping.
    pub(crate) async fn create_stream(
        &self,
        new: NewMapping,
        arn: StreamArn,
    ) -> Result<MappingStatus, MappingError> {
        let account = self.ctx.invoker.registry().account();
        let missing = || {
            MappingError::InvalidParameter(format!("Stream not found: {}", new.event_source_arn))
        };
        if arn.region != account.region || arn.account_id != account.account_id {
            return Err(missing());
        }
        let reader =
            self.ctx.streams.get().cloned().ok_or_else(|| {
                MappingError::Internal("the tables' streams are not attached".into())
            })?;
        let table = arn.table.clone();
        let current = tokio::task::spawn_blocking(move || reader.stream(&table))
            .await
            .map_err(|e| MappingError::Internal(e.to_string()))?
            .map_err(MappingError::Internal)?;
        let last = match current {
            Some((stream, last)) if stream == new.event_source_arn => last,
            _ => return Err(missing()),
        };
        self.resolve(&new.function)?;
        if new.maximum_concurrency.is_some() {
            return Err(no_scaling());
        }
        let request = new.stream;
        let starting_position = match request.starting_position.as_deref() {
            Some(p @ ("TRIM_HORIZON" | "LATEST")) => p.to_string(),
            Some(other) => {
                return Err(MappingError::InvalidParameter(format!(
                    "Unsupported starting position for DynamoDB Streams: {other}"
                )))
            }
            None => {
                return Err(MappingError::InvalidParameter(
                    "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: \
                     Member must not be null"
                        .into(),
                ))
            }
        };
        let on_failure = request.on_failure.flatten();
        if let Some(destination) = &on_failure {
            self.check_destination(destination)?;
        }
        let mapping = Mapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn: new.event_source_arn,
            queue: String::new(),
            function: new.function.name,
            qualifier: new.function.qualifier.map(|q| q.to_string()),
            batch_size: new.batch_size.unwrap_or(DEFAULT_STREAM_BATCH_SIZE),
            batching_window: new.batching_window.unwrap_or(0),
            enabled: new.enabled.unwrap_or(true),
            report_batch_item_failures: new.report_batch_item_failures,
            maximum_concurrency: None,
            last_modified_ms: now_ms(),
            state_transition_reason: "USER_INITIATED".into(),
            stream: Some(StreamSettings {
                table: arn.table,
                starting_position,
                maximum_retry_attempts: request.maximum_retry_attempts.unwrap_or(-1),
                maximum_record_age: request.maximum_record_age.unwrap_or(-1),
                bisect_batch_on_function_error: request
                    .bisect_batch_on_function_error
                    .unwrap_or(false),
                on_failure,
            }),
        };
        let latest = mapping
            .stream
            .as_ref()
            .is_some_and(|s| s.starting_position == "LATEST");
        let position = if latest { last } else { 0 };

        let _change = self.changes.lock().await;
        self.check_unique(&mapping)?;
        self.persist(&mapping, Some(position)).await?;
        let mut entry = Entry {
            mapping: mapping.clone(),
            pollers: None,
        };
        entry.restart(&self.ctx);
        self.lock().insert(mapping.uuid.clone(), entry);
        Ok(MappingStatus {
            mapping,
            state: State::Creating,
        })
    }

    /// Applies an update's stream settings.
    pub(crate) fn apply_stream_update(
        &self,
        settings: &mut StreamSettings,
        update: &MappingUpdate,
    ) -> Result<(), MappingError> {
        let request = &update.stream;
        if request.starting_position.is_some() {
            return Err(MappingError::InvalidParameter(
                "StartingPosition cannot be changed".into(),
            ));
        }
        if let Some(n) = request.maximum_retry_attempts {
            settings.maximum_retry_attempts = n;
        }
        if let Some(n) = request.maximum_record_age {
            settings.maximum_record_age = n;
        }
        if let Some(b) = request.bisect_batch_on_function_error {
            settings.bisect_batch_on_function_error = b;
        }
        if let Some(on_failure) = &request.on_failure {
            if let Some(destination) = on_failure {
                self.check_destination(destination)?;
            }
            settings.on_failure = on_failure.clone();
        }
        Ok(())
    }

    /// An `OnFailure` destination must be one of the account's queues.
    fn check_destination(&self, destination: &str) -> Result<(), MappingError> {
        let invalid = || {
            MappingError::InvalidParameter(format!(
                "The provided destination config DestinationConfig(onSuccess=null, \
                 onFailure=OnFailure(destination={destination})) is invalid."
            ))
        };
        let arn = parse_queue_arn(destination).map_err(|_| invalid())?;
        let account = self.ctx.invoker.registry().account();
        if arn.region != account.region
            || arn.account_id != account.account_id
            || self.ctx.queues.get_queue(&arn.queue).is_none()
        {
            return Err(invalid());
        }
        Ok(())
    }
}

/// Stream settings given for a queue's mapping.
pub(crate) fn stream_only() -> MappingError {
    MappingError::InvalidParameter(
        "StartingPosition, MaximumRetryAttempts, MaximumRecordAgeInSeconds, \
         BisectBatchOnFunctionError and DestinationConfig are not supported for SQS event sources."
            .into(),
    )
}

/// `ScalingConfig` given for a stream's mapping.
pub(crate) fn no_scaling() -> MappingError {
    MappingError::InvalidParameter(
        "ScalingConfig is not supported for DynamoDB Streams event sources.".into(),
    )
}
