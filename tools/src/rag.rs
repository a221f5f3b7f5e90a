//! Retrieval-augmented replies for models that cannot call tools (or should not spend a turn
//! on it): before each call, the passages that match the user's last message are put into it,
//! under their citations. A wrapper over any [`Model`], so the caller does not know.

use std::sync::Arc;

use anymodel_core::{
    Capabilities, ChatRequest, ChatResponse, Content, EventStream, Message, Model, Part, Result,
    RetrievalQuery, Retriever, async_trait,
};

use crate::context::format_passages;

/// How many passages a request gets unless told otherwise.
pub const DEFAULT_K: usize = 3;

/// A model whose every request first gets the passages matching the user's last message.
pub struct RetrievalAugmented<M> {
    model: M,
    retriever: Arc<dyn Retriever>,
    k: usize,
    budget: usize,
}

impl<M: Model> std::fmt::Debug for RetrievalAugmented<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetrievalAugmented")
            .field("model", &self.model.name())
            .field("k", &self.k)
            .finish()
    }
}

impl<M: Model> RetrievalAugmented<M> {
    /// `model`, given the 5 best passages of `retriever` in at most 6,000 characters.
    pub fn new(model: M, retriever: Arc<dyn Retriever>) -> Self {
        RetrievalAugmented { model, retriever, k: DEFAULT_K, budget: 6000 }
    }

    /// How many passages each request gets.
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = k.max(1);
        self
    }

    /// The most characters of passages (citations included) each request gets.
    pub fn with_budget(mut self, characters: usize) -> Self {
        self.budget = characters;
        self
    }

    /// `request` as the model will receive it: its last user message rewritten to hold the
    /// passages that match it, and the instruction to answer from them with citations. A request
    /// without a user message is left as it is.
    pub async fn augment(&self, mut request: ChatRequest) -> Result<ChatRequest> {
        let Some(Message::User { content }) =
            request.messages.iter_mut().rev().find(|m| matches!(m, Message::User { .. }))
        else {
            return Ok(request);
        };
        let question = content.text();
        let passages =
            self.retriever.retrieve(&RetrievalQuery::new(question.clone(), self.k)).await?;
        let context = if passages.is_empty() {
            "(no passage of the documents matches the question)".to_string()
        } else {
            format_passages(&passages, self.budget)
        };
        // The passages first and the question last, closest to the answer: small models follow
        // that best.
        let text = format!(
            "Passages from the user's documents, each under its citation in square brackets:\n\n{context}\n\n\
             Answer the question below from these passages, and cite the passages you use by their \
             citation, such as [{example}]. If they do not answer it, say so.\n\nQuestion: {question}",
            example = passages
                .first()
                .map_or_else(|| "docs/guide.md:10-24".to_string(), |p| p.source.to_string()),
        );
        // Images and documents the question came with stay, after it.
        let media = content.parts().iter().filter(|part| part.media().is_some()).cloned();
        *content = Content::new(std::iter::once(Part::text(text)).chain(media));
        Ok(request)
    }

    /// The wrapped model.
    pub fn inner(&self) -> &M {
        &self.model
    }
}

#[async_trait]
impl<M: Model> Model for RetrievalAugmented<M> {
    fn name(&self) -> &str {
        self.model.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.model.capabilities()
    }

    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse> {
        let request = self.augment(request).await?;
        self.model.chat(request).await
    }

    async fn stream(&self, request: ChatRequest) -> Result<EventStream> {
        let request = self.augment(request).await?;
        self.model.stream(request).await
    }

    /// The wrapped model's preview of the request with its passages in it.
    async fn preview(&self, request: &ChatRequest) -> Result<Option<String>> {
        let request = self.augment(request.clone()).await?;
        self.model.preview(&request).await
    }
}
